"""Every capture format and link type trace reads, checked against tshark field by field.

Crafted with labctl.pcap.generate (dpkt's classes); the oracle is `tshark -T fields`
(tests/tshark_oracle.py). Damaged files are checked for what is read, where
the damage is said to be, and that nothing is invented.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import dpkt
import pytest
from tshark_oracle import compare, prefetch, require_tshark, tshark_rows

from labctl.pcap.generate import ACK, FIN, LINKTYPES, PSH, SYN, TUNNELS, Wire
from labctl.pcap.read import Interface
from labctl.pcap.write import pcapng_bytes
from labctl.trace.analysis import analyse

V4 = (("10.0.0.3", 35310, "bc:35:db:cf:1b:03"), ("10.0.0.2", 80, "bc:f2:b8:57:86:02"))
V6 = (("fd00::3", 35310, "bc:35:db:cf:1b:03"), ("fd00::2", 80, "bc:f2:b8:57:86:02"))


def conversation(link: str = "ethernet", v6: bool = False, tunnel: str | None = None
                 ) -> Wire:
    """Window scaling, data, a spurious retransmission, a fragmented datagram (not in a
    tunnel, pcapgen.Wire's `tunnel`), FIN teardown."""
    client, server = V6 if v6 else V4
    w = Wire(client=client, server=server, link=link, **({"tunnel": tunnel} if tunnel else {}))
    w.tcp("c", SYN, mss=1460, wscale=7)
    w.tcp("s", SYN | ACK, ack=w.seq["c"], mss=1400, wscale=9)
    w.tcp("c", ACK, ack=w.seq["s"], window=502)
    w.tcp("c", PSH | ACK, b"x" * 300, ack=w.seq["s"], window=502)
    w.tcp("s", ACK, ack=w.seq["c"], window=100)
    w.tcp("c", PSH | ACK, b"x" * 300, ack=w.seq["s"], window=502, seq=w.seq["c"] - 300)
    if tunnel is None:
        w.udp("c", b"u" * 3000, fragment=0 if v6 else 1480)
    w.tcp("c", FIN | ACK, ack=w.seq["s"], window=502)
    w.tcp("s", FIN | ACK, ack=w.seq["c"], window=100)
    w.tcp("c", ACK, ack=w.seq["s"], window=502)
    return w


_EARLY: dict[str, Future] = {}


def start_early() -> None:
    """Called (tests/conftest.py) once the session knows these tests run: tshark reads the
    parametrized cases' captures on another core while other modules' tests run."""
    if "files" not in _EARLY:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tshark-oracle")
        _EARLY["files"] = pool.submit(_write_oracle_files,
                                      Path(tempfile.mkdtemp(prefix="labctl-oracle-")))
        pool.shutdown(wait=False)


def _write_oracle_files(folder: Path) -> tuple[Path, dict[str, Path]]:
    captures = {f"{link}-{'ipv6' if v6 else 'ipv4'}": conversation(link, v6).pcap(nano=v6)
                for link in LINKTYPES for v6 in (False, True)}
    captures |= {f"be-{'nano' if nano else 'micro'}": big_endian(conversation().pcap(nano=nano))
                 for nano in (False, True)}
    for build in EDGE_CASES:
        w = Wire()
        build(w)
        captures[build.__name__] = w.pcap()
    captures |= {f"tunnel-{tunnel}-{'ipv6' if v6 else 'ipv4'}":
                 conversation(v6=v6, tunnel=tunnel).pcap()
                 for tunnel in TUNNELS for v6 in (False, True)}
    captures["ecn"] = ecn().pcap()
    paths = {}
    for name, data in captures.items():
        paths[name] = folder / f"{name}.pcap"
        paths[name].write_bytes(data)
    if shutil.which("tshark"):  # without it, the fixture skips (or fails in CI)
        prefetch(paths.values())
    return folder, paths


@pytest.fixture(scope="module")
def oracle_files():
    """The captures the parametrized cases below compare, tshark's reading of them done."""
    require_tshark()
    start_early()
    folder, paths = _EARLY["files"].result()
    yield paths
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("link", sorted(LINKTYPES))
def test_link_types_agree_with_tshark(oracle_files: dict[str, Path], link: str,
                                      v6: bool) -> None:
    path = oracle_files[f"{link}-{'ipv6' if v6 else 'ipv4'}"]
    result = analyse(path.read_bytes())
    conv, = result.conversations
    assert conv.handshake_complete and conv.teardown_kind == "fin"
    assert conv.segments[3].window == 502 << 7  # calculated, not the raw 502
    assert [s.analysis for s in conv.segments if s.analysis] == ["spurious retransmission"]
    assert [len(f.datagrams) for f in result.udp_flows] == [1]
    assert result.udp_flows[0].datagrams[0].length == 3000
    assert compare(path, result) == []


def test_pcapng_with_two_interfaces_keeps_each_packets_interface(tmp_path: Path) -> None:
    eth, cooked = conversation("ethernet"), conversation("sll2")
    records = [(round(ts * 1e9), 0, frame, len(frame)) for ts, frame in eth.frames[:3]]
    records += [(round(ts * 1e9) + 100_000, 1, frame, len(frame))
                for ts, frame in cooked.frames[:3]]
    records.sort()
    path = tmp_path / "two.pcapng"
    path.write_bytes(pcapng_bytes([Interface(dpkt.pcap.DLT_EN10MB, "client", 65535),
                                   Interface(dpkt.pcap.DLT_LINUX_SLL2, "server", 65535)],
                                  records))
    result = analyse(path.read_bytes())
    assert result.format == "pcapng"
    assert [i.name for i in result.interfaces] == ["client", "server"]
    assert [p.interface for p in result.packets] == [0, 1, 0, 1, 0, 1]
    assert [p.linktype for p in result.packets][:2] == [dpkt.pcap.DLT_EN10MB,
                                                        dpkt.pcap.DLT_LINUX_SLL2]
    # Each handshake packet was captured twice (once per interface), as Wireshark sees it.
    assert len(result.conversations) == 1
    assert compare(path, result) == []


def big_endian(little: bytes) -> bytes:
    """The same pcap as a big-endian host (or a nanosecond one) would have written it."""
    magic, major, minor, zone, sigfigs, snaplen, linktype = struct.unpack_from("<IHHiIII", little)
    out = [struct.pack(">IHHiIII", magic, major, minor, zone, sigfigs, snaplen, linktype)]
    offset = 24
    while offset < len(little):
        sec, frac, caplen, wirelen = struct.unpack_from("<IIII", little, offset)
        out.append(struct.pack(">IIII", sec, frac, caplen, wirelen))
        out.append(little[offset + 16:offset + 16 + caplen])
        offset += 16 + caplen
    return b"".join(out)


@pytest.mark.parametrize("nano", [False, True], ids=["micro", "nano"])
def test_big_endian_pcap(oracle_files: dict[str, Path], nano: bool) -> None:
    w = conversation()
    path = oracle_files[f"be-{'nano' if nano else 'micro'}"]
    result = analyse(path.read_bytes())
    assert abs(result.packets[0].time - w.frames[0][0]) < 1e-6
    assert compare(path, result) == []


def test_lengths_come_from_the_ip_header_not_the_snaplen(tmp_path: Path) -> None:
    w = Wire()
    w.handshake()
    w.tcp("c", PSH | ACK, b"d" * 1448, ack=w.seq["s"])
    w.tcp("s", ACK, ack=w.seq["c"])
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 96, 1)
    records = [struct.pack("<IIII", int(ts), int(ts % 1 * 1e6), min(len(f), 96), len(f))
               + f[:96] for ts, f in w.frames]
    path = tmp_path / "snap96.pcap"
    path.write_bytes(header + b"".join(records))
    result = analyse(path.read_bytes())
    assert result.conversations[0].segments[3].packet.length == 1448
    assert result.damage is None
    assert compare(path, result) == []


def test_mid_stream_relative_numbers_start_at_one(tmp_path: Path) -> None:
    w = Wire(client_isn=1000, server_isn=5000)
    w.tcp("c", PSH | ACK, b"x" * 100, ack=5000)
    w.tcp("s", ACK, ack=1100)
    w.tcp("s", PSH | ACK, b"y" * 50, ack=1100)
    w.tcp("c", ACK, ack=5050)
    path = tmp_path / "mid.pcap"
    path.write_bytes(w.pcap())
    result = analyse(path.read_bytes())
    assert [(s.rel_seq, s.rel_ack) for s in result.conversations[0].segments] == \
        [(1, 1), (1, 101), (1, 101), (101, 51)]
    assert compare(path, result) == []


def test_port_reuse_without_fin_is_a_new_stream(tmp_path: Path) -> None:
    w = Wire()
    for isn in (100, 90_000, 7_000_000, 123_456_789):
        w.seq = {"c": isn, "s": isn * 3}
        w.handshake()
        w.tcp("c", PSH | ACK, b"q" * 10, ack=w.seq["s"])
    path = tmp_path / "reuse.pcap"
    path.write_bytes(w.pcap())
    result = analyse(path.read_bytes())
    assert len(result.conversations) == 4
    assert all(c.handshake_complete for c in result.conversations)
    assert compare(path, result) == []


def test_resegmented_and_fast_retransmissions(tmp_path: Path) -> None:
    w = Wire()
    w.handshake()
    base = w.seq["c"]
    for _ in range(4):
        w.tcp("c", ACK, b"a" * 1000, ack=w.seq["s"])
    for _ in range(3):  # the first segment was lost: three ACKs of it, all duplicates
        #                 (the SYN/ACK already acknowledged the same number)
        w.tcp("s", ACK, ack=base)
    w.tcp("c", ACK, b"a" * 1000, ack=w.seq["s"], seq=base)  # fast retransmission
    w.time += 1.0
    w.tcp("c", ACK, b"a" * 2000, ack=w.seq["s"], seq=base + 1000)  # re-segmented (TSO)
    w.tcp("s", ACK, ack=w.seq["c"])
    path = tmp_path / "retrans.pcap"
    path.write_bytes(w.pcap())
    result = analyse(path.read_bytes())
    kinds = [s.analysis for s in result.conversations[0].segments if s.analysis]
    assert kinds == ["dup ack"] * 3 + ["fast retransmission", "retransmission"]
    assert result.conversations[0].retransmissions == 2
    assert compare(path, result) == []


def test_truncated_file_reads_what_is_sound_and_names_the_offset(tmp_path: Path) -> None:
    data = conversation().pcap()
    cut = data[:-30]
    path = tmp_path / "cut.pcap"
    path.write_bytes(cut)
    result = analyse(cut)
    assert result.damage is not None
    whole = analyse(data)
    assert result.frames == whole.frames - 1
    last_record = len(data) - (16 + len(conversation().frames[-1][1]))
    assert result.damage.offset == last_record
    assert str(last_record) in str(result.damage)
    require_tshark()
    assert sorted(tshark_rows(path)) == [p.number for p in result.packets]
    assert compare(path, result) == []


def test_corrupt_record_length_invents_no_frame() -> None:
    data = bytearray(conversation().pcap())
    second = 24 + 16 + struct.unpack_from("<I", data, 24 + 8)[0]
    struct.pack_into("<I", data, second + 8, 0x7FFF_0000)  # caplen of record 2
    result = analyse(bytes(data))
    assert result.frames == 1
    assert result.damage.offset == second
    assert "exceeds the snapshot length" in result.damage.reason


def test_truncated_pcapng_block() -> None:
    w = conversation()
    records = [(round(ts * 1e9), 0, f, len(f)) for ts, f in w.frames]
    data = pcapng_bytes([Interface(dpkt.pcap.DLT_EN10MB, "eth0", 65535)], records)
    result = analyse(data[:-10])
    assert result.frames == len(records) - 1
    assert result.damage is not None and result.damage.offset > 0


def test_not_a_capture_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a pcap or pcapng file"):
        analyse(b"hello world, this is not a capture")


def _ws_one_side(w: Wire) -> None:
    w.tcp("c", SYN, mss=1460, wscale=7)
    w.tcp("s", SYN | ACK, ack=w.seq["c"], mss=1460)  # no window scale: neither side scales
    w.tcp("c", ACK, ack=w.seq["s"], window=500)
    w.tcp("s", ACK, b"x" * 10, ack=w.seq["c"], window=300)


def _syn_ack_only(w: Wire) -> None:
    w.seq["c"] += 1
    w.tcp("s", SYN | ACK, ack=w.seq["c"], mss=1460, wscale=7)
    w.tcp("c", ACK, ack=w.seq["s"], window=500)
    w.tcp("s", ACK, b"x" * 10, ack=w.seq["c"], window=300)


def _syn_only(w: Wire) -> None:
    w.tcp("c", SYN, mss=1460, wscale=7)
    w.seq["s"] += 1
    w.tcp("c", ACK, ack=w.seq["s"], window=500)
    w.tcp("s", ACK, b"x" * 10, ack=w.seq["c"], window=300)


def _out_of_order(w: Wire) -> None:
    w.handshake()
    base = w.seq["c"]
    w.tcp("c", ACK, b"a" * 100, ack=w.seq["s"], seq=base + 100)
    w.tcp("c", ACK, b"a" * 100, ack=w.seq["s"], seq=base)
    w.seq["c"] = base + 200
    w.tcp("s", ACK, ack=w.seq["c"])


def _keep_alive(w: Wire) -> None:
    w.handshake()
    w.tcp("c", ACK, b"a" * 10, ack=w.seq["s"])
    w.tcp("s", ACK, ack=w.seq["c"])
    w.time += 10
    w.tcp("c", ACK, ack=w.seq["s"], seq=w.seq["c"] - 1)
    w.tcp("s", ACK, ack=w.seq["c"])


def _fin_retransmitted(w: Wire) -> None:
    w.handshake()
    w.tcp("c", FIN | ACK, ack=w.seq["s"])
    w.time += 0.5
    w.tcp("c", FIN | ACK, ack=w.seq["s"], seq=w.seq["c"] - 1)
    w.tcp("s", FIN | ACK, ack=w.seq["c"])
    w.tcp("c", ACK, ack=w.seq["s"])


def _sequence_wraps(w: Wire) -> None:
    w.seq["c"] = 2**32 - 50
    w.handshake()
    w.tcp("c", ACK, b"w" * 100, ack=w.seq["s"])
    w.tcp("s", ACK, ack=w.seq["c"])
    w.tcp("c", ACK, b"w" * 100, ack=w.seq["s"])


def _stamped_before_its_predecessor(w: Wire) -> None:
    w.handshake()
    base = w.seq["c"]
    w.tcp("c", ACK, b"a" * 100, ack=w.seq["s"])
    w.tcp("c", ACK, b"b" * 100, ack=w.seq["s"])
    w.time -= 0.0015  # written by another CPU: earlier than the frame before it
    w.tcp("c", ACK, b"a" * 100, ack=w.seq["s"], seq=base)


EDGE_CASES = [_stamped_before_its_predecessor, _ws_one_side, _syn_ack_only, _syn_only,
              _out_of_order, _keep_alive, _fin_retransmitted, _sequence_wraps]


@pytest.mark.parametrize("build", EDGE_CASES, ids=lambda f: f.__name__.strip("_"))
def test_edge_cases_agree_with_tshark(oracle_files: dict[str, Path], build) -> None:
    assert compare(oracle_files[build.__name__]) == []


def test_merge_writes_one_interface_per_node_with_its_link_type(tmp_path: Path) -> None:
    from labctl.service.captures import CapturedFile, merge

    server, client = conversation("ethernet"), conversation("sll2")
    for ts_frame in range(len(client.frames)):
        ts, frame = client.frames[ts_frame]
        client.frames[ts_frame] = (ts + 0.0005, frame)
    path = tmp_path / "merged.pcapng"
    path.write_bytes(merge([CapturedFile("server", server.pcap()),
                            CapturedFile("client", client.pcap())]))
    result = analyse(path.read_bytes())
    assert [(i.name, i.linktype) for i in result.interfaces] == [
        ("server", dpkt.pcap.DLT_EN10MB), ("client", dpkt.pcap.DLT_LINUX_SLL2)]
    times = [p.time for p in result.packets]
    assert times == sorted(times)
    assert {p.interface for p in result.packets} == {0, 1}
    out = subprocess.run([require_tshark(), "-r", str(path), "-T", "fields", "-e",
                          "frame.interface_name", "-e", "frame.protocols", "-c", "2"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].startswith("server\teth:") and out[1].startswith("client\tsll:")



TUNNEL_NAMES = {"ipip": ("IP in IP", "IPv6 in IP"), "gre": ("GRE", "GRE"),
                "gre-ethernet": ("GRE", "GRE"), "vxlan": ("VXLAN", "VXLAN"),
                "geneve": ("GENEVE", "GENEVE"), "l2tp": ("L2TP", "L2TP")}


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("tunnel", TUNNELS)
def test_tcp_inside_tunnels_agrees_with_tshark(oracle_files: dict[str, Path], tunnel: str,
                                               v6: bool) -> None:
    """Issue 22 (4): TCP inside GRE, VXLAN, ... was silently missing (0 packets)."""
    path = oracle_files[f"tunnel-{tunnel}-{'ipv6' if v6 else 'ipv4'}"]
    result = analyse(path.read_bytes())
    conv, = result.conversations
    assert conv.client == ((V6 if v6 else V4)[0][0], 35310)
    assert conv.handshake_complete and conv.teardown_kind == "fin"
    assert conv.segments[3].window == 502 << 7
    assert {p.tunnel for p in result.packets} == {TUNNEL_NAMES[tunnel][v6]}
    assert result.tunnelled == {} and result.malformed == []
    assert compare(path, result) == []


def test_tunnels_not_decoded_are_counted_not_hidden() -> None:
    """ESP, L2TPv3 and GRE carrying what labctl does not read: counted, and said."""
    w = Wire(tunnel="gre")
    w.handshake()
    frames = [f for _, f in w.frames]
    records = []
    for i, frame in enumerate(frames):
        eth = dpkt.ethernet.Ethernet(frame)
        outer = eth.data
        if i == 0:
            outer.p = 50  # IPsec ESP: encrypted
        elif i == 1:
            payload = bytearray(bytes(outer.data))
            payload[2:4] = (0x88BE).to_bytes(2, "big")  # ERSPAN
            outer.data = bytes(payload)
        outer.sum = 0
        frame = eth.pack_hdr() + bytes(outer)
        records.append((i * 1000, 0, frame, len(frame)))
    from labctl.pcap.write import pcap_bytes
    result = analyse(pcap_bytes(dpkt.pcap.DLT_EN10MB, records))
    assert result.tunnelled == {"IPsec ESP (encrypted)": 1, "GRE carrying 0x88be": 1}
    assert [p.number for p in result.packets] == [3]
    assert result.notes == ["2 packets inside a tunnel labctl does not decode, not analysed "
                            "(GRE carrying 0x88be: 1, IPsec ESP (encrypted): 1)"]


def ecn() -> Wire:
    """An ECN-capable handshake, a congestion echo and its reduction, and the AE bit."""
    w = Wire()
    ece, cwr, ae = dpkt.tcp.TH_ECE, dpkt.tcp.TH_CWR, 0x100
    w.tcp("c", SYN | ece | cwr, mss=1460)
    w.tcp("s", SYN | ACK | ece, ack=w.seq["c"], mss=1460)
    w.tcp("c", ACK, ack=w.seq["s"])
    w.tcp("c", PSH | ACK, b"x" * 100, ack=w.seq["s"])
    w.tcp("s", ACK | ece, ack=w.seq["c"])
    w.tcp("c", PSH | ACK | cwr, b"x" * 100, ack=w.seq["s"])
    w.tcp("s", ACK | ae, ack=w.seq["c"])
    w.tcp("c", FIN | SYN | dpkt.tcp.TH_URG, ack=w.seq["s"], advance=False)
    return w


def test_every_tcp_flag_is_named_as_wireshark_names_it(oracle_files: dict[str, Path]) -> None:
    """Issue 22 (3): ECE and CWR (and AE, once NS) were dropped: [SYN, ECE, CWR] showed SYN."""
    path = oracle_files["ecn"]
    result = analyse(path.read_bytes())
    ours = [p.flag_names for p in result.packets]
    out = subprocess.run([require_tshark(), "-r", str(path), "-T", "fields", "-e",
                          "_ws.col.Info"], capture_output=True, text=True, check=True).stdout
    # "35310 → 80 [SYN, ECE, CWR] Seq=0 ...", after any "[TCP Port numbers reused] ".
    theirs = [re.search(r"\d+ → \d+ \[([^]]*)\]", line)[1].split(", ")
              for line in out.splitlines()]
    assert ours == theirs
    assert ours[0] == ["SYN", "ECE", "CWR"] and ours[6] == ["ACK", "AE"]
    assert ours[7] == ["FIN", "SYN", "URG"]  # Wireshark's order, FIN first
    assert result.packets[0].flags_text == "SYN/ECE/CWR"
    assert compare(path, result) == []
