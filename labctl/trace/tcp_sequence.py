"""TCP sequence analysis with Wireshark's definitions, one segment at a time.

What Wireshark (packet-tcp.c, tcp_analyze_sequence_number) calls:
- relative numbers: from the ISN when the SYN was seen, else from the first
  sequence number seen minus one; an ACK sets its peer's base to ack - 1
  when the peer has not been seen yet (so mid-stream captures start at 1);
- calculated window: the raw field shifted by the sender's window scale
  from its SYN, dropped when the peer's SYN came without the option, raw
  when the sender's SYN was not captured; SYNs are never scaled;
- retransmission: a segment carrying data, SYN or FIN that starts below the
  highest sequence number already sent in its direction (so a retransmission
  cut differently, as TSO does, is found too), unless it is a keep-alive;
  split into fast retransmission (after two duplicate ACKs, within 20 ms),
  out-of-order (within the handshake's round-trip time, or 3 ms, of the
  highest segment) and spurious retransmission (all of it already acked);
- duplicate ACK: no data, same window, same ack, sequence at the next
  expected one.

The state is per direction, updated segment by segment, so a live capture
can be fed packet by packet.
"""

from __future__ import annotations

from dataclasses import dataclass

from labctl.pcap.decode import ACK, FIN, RST, SYN, Packet

MOD = 2**32
# Times in integer nanoseconds (Packet.ns), as Wireshark compares them.
FAST_RETRANSMISSION_WINDOW = 20_000_000  # Wireshark: within 20 ms of the last duplicate ACK
OUT_OF_ORDER_DEFAULT = 3_000_000  # Wireshark's threshold when the handshake's RTT is unknown

WINDOW_UNKNOWN, WINDOW_NOT_SCALED = -1, -2  # Wireshark's tcp.window_size_scalefactor
_SYN_FIN, _SYN_FIN_RST = SYN | FIN, SYN | FIN | RST


def _after(a: int, b: int) -> bool:
    """a > b in sequence space (wrapping at 2**32)."""
    return 0 < (a - b) % MOD < 2**31


@dataclass(slots=True)
class Flow:
    """One direction of a connection."""

    base: int | None = None
    syn_seen: bool = False
    scale_option: int | None = None  # shift from this side's SYN, None without the option
    scale: int = WINDOW_UNKNOWN
    nextseq: int | None = None
    nextseq_time: int = 0
    lastack: int | None = None
    lastack_time: int = 0
    window: int | None = None
    dupacks: int = 0
    last_kind: str = ""  # the analysis of this direction's latest segment


RETRANSMISSION_KINDS = ("retransmission", "fast retransmission", "spurious retransmission")


class Sequencer:
    """The two directions of one connection, fed in capture order."""

    __slots__ = ("flows", "syn_time", "syn_ack_seen", "rtt")

    def __init__(self) -> None:
        self.flows: dict[bool, Flow] = {True: Flow(), False: Flow()}
        self.syn_time: int | None = None
        self.syn_ack_seen = False
        self.rtt: int | None = None

    def base_of(self, forward: bool) -> int | None:
        return self.flows[forward].base

    def feed(self, p: Packet, forward: bool) -> tuple[int, int | None, int, str]:
        """(relative seq, relative ack or None, calculated window, analysis kind)."""
        fwd, rev = self.flows[forward], self.flows[not forward]
        flags = p.flags
        if flags & SYN:
            if not fwd.syn_seen:
                fwd.base = p.seq
            self._syn(p, fwd, rev)
        elif fwd.base is None:
            fwd.base = (p.seq - 1) % MOD
        elif flags & ACK and self.rtt is None and self.syn_ack_seen and forward:
            self.rtt = p.ns - self.syn_time if self.syn_time is not None else None
        if flags & ACK:
            if rev.base is None:
                rev.base = (p.ack - 1) % MOD
            rel_ack = (p.ack - rev.base) % MOD
        else:
            rel_ack = None
        scale = fwd.scale
        window = p.window if flags & SYN or scale < 0 else p.window << scale
        return (p.seq - fwd.base) % MOD, rel_ack, window, self._sequence(p, fwd, rev)

    def _syn(self, p: Packet, fwd: Flow, rev: Flow) -> None:
        if not p.flags & ACK:
            self.syn_time = p.ns  # Wireshark measures the iRTT from the latest SYN
        if p.flags & ACK:
            self.syn_ack_seen = True
        fwd.syn_seen = True
        fwd.scale_option = p.wscale
        # Until the peer's SYN shows whether it agrees, Wireshark applies this side's shift.
        fwd.scale = WINDOW_NOT_SCALED if p.wscale is None else p.wscale
        if rev.syn_seen:
            both = fwd.scale_option is not None and rev.scale_option is not None
            fwd.scale = fwd.scale_option if both else WINDOW_NOT_SCALED
            rev.scale = rev.scale_option if both else WINDOW_NOT_SCALED

    def _sequence(self, p: Packet, fwd: Flow, rev: Flow) -> str:
        flags, seq, seglen, now = p.flags, p.seq, p.length, p.ns
        nextseq = fwd.nextseq
        plain = not flags & _SYN_FIN_RST
        kind = ""
        if nextseq is not None and seglen <= 1 and plain and seq == (nextseq - 1) % MOD:
            kind = "keep-alive"
        elif (seglen == 0 and plain and p.window and p.window == fwd.window
              and seq == nextseq and flags & ACK and p.ack == fwd.lastack):
            # Wireshark: the answer to the peer's keep-alive is no duplicate.
            if rev.last_kind == "keep-alive":
                kind = "keep-alive ack"
            else:
                kind = "dup ack"
                fwd.dupacks += 1
        if flags & ACK and p.ack != fwd.lastack and kind != "dup ack":
            fwd.dupacks = 0
        span = seglen + 1 if flags & _SYN_FIN else seglen
        if span and kind != "keep-alive" and nextseq is not None and seq != nextseq \
                and _after(nextseq, seq):
            kind = self._retransmission_kind(p, span, fwd, rev)
        end = (seq + span) % MOD
        if nextseq is None or _after(end, nextseq):
            fwd.nextseq, fwd.nextseq_time = end, now
        if flags & ACK:
            fwd.lastack, fwd.lastack_time = p.ack, now
        fwd.window = p.window
        fwd.last_kind = kind
        return kind

    def _retransmission_kind(self, p: Packet, span: int, fwd: Flow, rev: Flow) -> str:
        seq, seglen, now = p.seq, p.length, p.ns
        if (rev.dupacks >= 2 and rev.lastack == seq
                and 0 <= now - rev.lastack_time < FAST_RETRANSMISSION_WINDOW):
            return "fast retransmission"
        threshold = self.rtt if self.rtt else OUT_OF_ORDER_DEFAULT
        # Wireshark's elapsed times are unsigned: a frame stamped before the one it follows
        # (two CPUs writing one capture) is never "within" the threshold.
        if 0 <= now - fwd.nextseq_time < threshold and fwd.nextseq != (seq + span) % MOD:
            return "out-of-order"
        if seglen > 0 and rev.lastack is not None and not _after((seq + seglen) % MOD,
                                                                 rev.lastack):
            return "spurious retransmission"
        return "retransmission"
