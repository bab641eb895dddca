"""Checks read from captured packets: handshakes, teardowns, MSS, retransmissions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from labctl.lab.check_kinds.registry import Failed, check_kind
from labctl.lab.model_parts import NodeName, Port, Strict

if TYPE_CHECKING:
    from labctl.checks.run import LabState
    from labctl.trace.analysis import Conversation

WIRE_NODES = ("client", "server", "seen_on")


def wire_kind(name: str, model: type[Strict], title):
    return check_kind(name, model, title, nodes=WIRE_NODES, reads_captures=True)


class WireCheck(Strict):
    """A check read from captured packets: client -> server:port."""

    client: NodeName
    server: NodeName
    port: Port
    seen_on: NodeName | None = Field(None, description="Read this node's capture "
                                     "(default: the first capture that has the traffic).")


class CountCheck(WireCheck):
    """A wire check that counts something: at least `at_least`, at most `at_most`."""

    at_least: int = Field(1, ge=0)
    at_most: int | None = Field(None, ge=0)

    def admits(self, total: int) -> bool:
        return total >= self.at_least and (self.at_most is None or total <= self.at_most)


def _conversations_or_explain(state: LabState, s: WireCheck) -> list[Conversation]:
    found = state.conversations(s.client, s.server, s.port, s.seen_on)
    if found:
        return found
    raise Failed(f"no SYN from {s.client} to {s.server}:{s.port} in the capture — did the "
                 "client connect? (run the lab's steps first)",
                 expected=f"SYN {state.ip(s.client)} → {state.ip(s.server)}:{s.port}",
                 seen=_capture_summary(state))


def _capture_summary(state: LabState) -> str:
    parts = []
    for node, result in state.captures:
        convs = [f"{c.client[0]}:{c.client[1]}→{c.server[0]}:{c.server[1]}"
                 for c in result.conversations[:5]]
        parts.append(f"{node}: {len(result.packets)} packets"
                     + (f" ({', '.join(convs)})" if convs else ""))
    return "; ".join(parts) or "no capture"


class HandshakeCheck(WireCheck):
    """SYN, SYN/ACK, ACK seen on the wire (ack = peer seq + 1)."""


@wire_kind("handshake", HandshakeCheck,
           lambda s: f"3-way handshake {s.client} → {s.server}:{s.port}")
def check_handshake(state: LabState, s: HandshakeCheck) -> None:
    convs = _conversations_or_explain(state, s)
    if any(c.handshake_complete for c in convs):
        return
    conv = convs[0]
    if len(conv.handshake) == 0:
        raise Failed(f"no SYN from {s.client} opened a connection to {s.server}:{s.port}",
                     expected="SYN, SYN/ACK, ACK", seen=_flags(conv))
    if len(conv.handshake) == 1:
        if conv.teardown_kind == "rst":
            raise Failed(f"{s.server}:{s.port} answered {s.client}'s SYN with RST — nothing "
                         f"listens on port {s.port}", expected="SYN, SYN/ACK, ACK",
                         seen=_flags(conv))
        raise Failed(f"no SYN/ACK from {s.server}:{s.port} after {s.client}'s SYN — is the "
                     "server listening?", expected="SYN, SYN/ACK, ACK", seen=_flags(conv))
    raise Failed(f"{s.client} never completed the handshake with its ACK",
                 expected="SYN, SYN/ACK, ACK", seen=_flags(conv))


class NoHandshakeCheck(WireCheck):
    """UDP datagrams client -> server:port seen, and no TCP handshake at all."""


@wire_kind("no_handshake", NoHandshakeCheck,
           lambda s: f"UDP {s.client} → {s.server}:{s.port} without any handshake")
def check_no_handshake(state: LabState, s: NoHandshakeCheck) -> None:
    clients, servers = set(state.ips(s.client)), set(state.ips(s.server))
    datagrams = sum(len(f.datagrams) for _, result in state.captures for f in result.udp_flows
                    if f.src[0] in clients and f.dst[0] in servers and f.dst[1] == s.port)
    tcp = state.conversations(s.client, s.server, s.port)
    if tcp:
        raise Failed(f"TCP segments {s.client} → {s.server}:{s.port} were seen; UDP needs no "
                     "handshake", expected="only UDP datagrams", seen=_flags(tcp[0]))
    if datagrams == 0:
        raise Failed(f"no UDP datagram from {s.client} to {s.server}:{s.port} in the capture",
                     expected="at least one datagram", seen=_capture_summary(state))


class TeardownCheck(WireCheck):
    kind: Literal["fin", "rst"] = "fin"


@wire_kind("teardown", TeardownCheck,
           lambda s: f"teardown {s.client} → {s.server}:{s.port} by {s.kind.upper()}")
def check_teardown(state: LabState, s: TeardownCheck) -> None:
    convs = _conversations_or_explain(state, s)
    kinds = [c.teardown_kind for c in convs]
    if s.kind in kinds:
        return
    described = {"fin": "closed by FIN/ACK in both directions", "fin-half": "closed in one "
                 "direction only (one FIN)", "rst": "aborted by RST", None: "still open"}
    raise Failed(f"the connection {s.client} → {s.server}:{s.port} was "
                 f"{described[kinds[0]]}", expected=s.kind.upper(), seen=_flags(convs[0]))


class MssCheck(WireCheck):
    mss: int = Field(ge=1, le=65535, description="MSS option expected in the client's SYN.")


@wire_kind("mss", MssCheck,
           lambda s: f"MSS {s.mss} in {s.client}'s SYN to {s.server}:{s.port}")
def check_mss(state: LabState, s: MssCheck) -> None:
    convs = _conversations_or_explain(state, s)
    seen = [c.mss.get("client") for c in convs]
    if s.mss in seen:
        return
    raise Failed(f"{s.client}'s SYN announced MSS {seen[0]} — MSS = MTU - 40 (20 bytes IPv4 "
                 f"header + 20 bytes TCP header)", expected=str(s.mss), seen=str(seen[0]))


class RetransmissionsCheck(CountCheck):
    pass


@wire_kind("retransmissions", RetransmissionsCheck,
           lambda s: (f"{_range(s.at_least, s.at_most)} retransmissions "
                     f"{s.client} → {s.server}:{s.port}"))
def check_retransmissions(state: LabState, s: RetransmissionsCheck) -> None:
    convs = _conversations_or_explain(state, s)
    total = sum(c.retransmissions for c in convs)
    if s.admits(total):
        return
    raise Failed(f"{total} retransmissions seen {s.client} → {s.server}:{s.port}"
                 + (" — is the link lossy? TCP only retransmits what was lost" if not total
                    else ""), expected=_range(s.at_least, s.at_most), seen=str(total))


class DatagramsCheck(CountCheck):
    """Count UDP datagrams client -> server:port on the wire."""


@wire_kind("datagrams", DatagramsCheck,
           lambda s: (f"{_range(s.at_least, s.at_most)} UDP datagrams "
                     f"{s.client} → {s.server}:{s.port}"))
def check_datagrams(state: LabState, s: DatagramsCheck) -> None:
    clients, servers = set(state.ips(s.client)), set(state.ips(s.server))
    total = sum(len(f.datagrams) for node, result in state.captures
                if s.seen_on is None or node == s.seen_on for f in result.udp_flows
                if f.src[0] in clients and f.dst[0] in servers and f.dst[1] == s.port)
    if s.admits(total):
        return
    raise Failed(f"{total} UDP datagrams {s.client} → {s.server}:{s.port} on the wire",
                 expected=_range(s.at_least, s.at_most), seen=str(total))


class ConnectionsCheck(CountCheck):
    """Count TCP connections client -> server:port (each opened by its own SYN)."""


@wire_kind("connections", ConnectionsCheck,
           lambda s: (f"{_range(s.at_least, s.at_most)} TCP connections "
                      f"{s.client} → {s.server}:{s.port}"))
def check_connections(state: LabState, s: ConnectionsCheck) -> None:
    total = len(state.conversations(s.client, s.server, s.port, s.seen_on))
    if s.admits(total):
        return
    raise Failed(f"{total} TCP connections {s.client} → {s.server}:{s.port} on the wire — "
                 "each connection starts with its own SYN from a new client port",
                 expected=_range(s.at_least, s.at_most), seen=str(total))


def _range(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low}"
    return f"exactly {low}" if low == high else f"between {low} and {high}"


def _flags(conv: Conversation) -> str:
    shown = [f"{'→' if seg.from_client else '←'}{seg.packet.flags_text}"
             for seg in conv.segments[:8]]
    return " ".join(shown) + (" …" if len(conv.segments) > 8 else "")
