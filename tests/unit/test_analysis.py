"""Packet analysis on crafted pcaps (edge cases) and on one recorded from handshake-lab."""

from pathlib import Path

import pytest

from labctl.pcap.generate import ACK, FIN, PSH, RST, SYN, Wire
from labctl.trace.analysis import analyse

RECORDED = Path(__file__).parent.parent / "data" / "handshake-lab-server.pcap"


def only(analysis):
    assert len(analysis.conversations) == 1
    return analysis.conversations[0]


def test_seeds_walkthrough_relative_numbers():
    # x=100, y=500: the client sends 1000 bytes, the server acknowledges 1101 and
    # sends 400 bytes; the client acknowledges 901 and sends 1000 more; ack 2101.
    w = Wire(client_isn=100, server_isn=500)
    w.handshake()
    w.tcp("c", PSH | ACK, b"x" * 1000, ack=501)
    w.tcp("s", PSH | ACK, b"y" * 400, ack=1101)
    w.tcp("c", PSH | ACK, b"z" * 1000, ack=901)
    w.tcp("s", ACK, ack=2101)
    conv = only(analyse(w.pcap()))
    assert conv.handshake_complete
    syn, syn_ack, ack = conv.handshake
    assert (syn.packet.seq, syn_ack.packet.seq, syn_ack.packet.ack) == (100, 500, 101)
    assert (ack.packet.seq, ack.packet.ack) == (101, 501)
    data = [(s.rel_seq, s.rel_ack, s.packet.length) for s in conv.segments[3:]]
    assert data == [(1, 1, 1000), (1, 1001, 400), (1001, 401, 1000), (401, 2001, 0)]
    assert [s.packet.ack for s in conv.segments[3:]] == [501, 1101, 901, 2101]
    assert conv.teardown_kind is None
    assert conv.bytes_sent(from_client=True) == 2000


def test_fin_teardown_in_both_directions():
    w = Wire()
    w.handshake()
    w.tcp("c", FIN | ACK, ack=w.seq["s"])
    w.tcp("s", ACK, ack=w.seq["c"])
    w.tcp("s", FIN | ACK, ack=w.seq["c"])
    w.tcp("c", ACK, ack=w.seq["s"])
    conv = only(analyse(w.pcap()))
    assert conv.teardown_kind == "fin"
    assert [s.label for s in conv.teardown] == ["FIN/ACK", "ACK", "FIN/ACK", "ACK"]


def test_simultaneous_close():
    w = Wire()
    w.handshake()
    client_fin_seq, server_fin_seq = w.seq["c"], w.seq["s"]
    w.tcp("c", FIN | ACK, ack=w.seq["s"])
    w.tcp("s", FIN | ACK, ack=client_fin_seq)  # crossed: sent before seeing the client's FIN
    w.tcp("c", ACK, ack=server_fin_seq + 1)
    w.tcp("s", ACK, ack=client_fin_seq + 1)
    conv = only(analyse(w.pcap()))
    assert conv.teardown_kind == "fin"
    assert sum(1 for s in conv.teardown if "FIN" in s.label) == 2
    assert sum(1 for s in conv.teardown if s.label == "ACK") == 2


def test_rst_instead_of_fin():
    w = Wire()
    w.handshake()
    w.tcp("c", PSH | ACK, b"hello", ack=w.seq["s"])
    w.tcp("s", RST | ACK, ack=w.seq["c"])
    conv = only(analyse(w.pcap()))
    assert conv.teardown_kind == "rst"
    assert conv.teardown[0].label == "RST/ACK"
    assert not conv.teardown[0].from_client


def test_retransmitted_syn_still_counts_one_handshake():
    w = Wire()
    w.tcp("c", SYN, mss=1460)
    w.tcp("c", SYN, mss=1460, seq=100)  # the same SYN again: no SYN/ACK came
    w.tcp("s", SYN | ACK, ack=101, mss=1460)
    w.tcp("c", ACK, ack=501)
    conv = only(analyse(w.pcap()))
    assert conv.handshake_complete
    assert conv.retransmissions == 1
    assert conv.segments[1].retransmission


def test_data_retransmission_is_counted():
    w = Wire()
    w.handshake()
    w.tcp("c", PSH | ACK, b"a" * 100, ack=501)
    w.tcp("c", PSH | ACK, b"a" * 100, ack=501, seq=101)
    w.tcp("s", ACK, ack=201)
    conv = only(analyse(w.pcap()))
    assert conv.retransmissions == 1
    assert conv.bytes_sent(from_client=True) == 100


def test_syn_without_answer_is_no_handshake():
    w = Wire()
    w.tcp("c", SYN, mss=1460)
    w.tcp("s", RST | ACK, ack=101, seq=0)  # closed port: RST, no SYN/ACK
    conv = only(analyse(w.pcap()))
    assert not conv.handshake_complete
    assert conv.teardown_kind == "rst"


def test_mss_read_from_the_syn():
    w = Wire()
    w.handshake(mss=1452)
    assert only(analyse(w.pcap())).mss == {"client": 1452, "server": 1452}


def test_udp_only_has_datagrams_and_no_conversation():
    w = Wire(client=("10.0.0.3", 39834, "bc:35:db:cf:1b:03"), server=("10.0.0.2", 50000,
                                                                      "bc:f2:b8:57:86:02"))
    for i in range(3):
        w.udp("c", f"Hello World {i}".encode())
    result = analyse(w.pcap())
    assert result.conversations == []
    assert len(result.udp_flows) == 1
    flow = result.udp_flows[0]
    assert flow.dst == ("10.0.0.2", 50000) and len(flow.datagrams) == 3
    assert flow.datagrams[0].payload == b"Hello World 0"


def test_truncated_capture_keeps_whole_packets():
    w = Wire()
    w.handshake()
    data = w.pcap()
    assert len(analyse(data[:-10]).packets) == 2


def test_not_a_pcap_is_a_clear_error():
    with pytest.raises(ValueError, match="not a pcap"):
        analyse(b"hello, not a pcap file at all........")


def test_recorded_handshake_lab_capture():
    result = analyse(RECORDED.read_bytes())
    conv = only(result)
    assert conv.server[1] == 80
    assert conv.handshake_complete
    assert [s.label for s in conv.handshake] == ["SYN", "SYN/ACK", "ACK"]
    assert conv.teardown_kind == "fin"
    assert conv.mss == {"client": 1460, "server": 1460}
    assert conv.client_mac.startswith("02:42:") and conv.client_mac != conv.server_mac
    # the gzip response: 138 bytes of headers, then 49 bytes of body
    assert conv.bytes_sent(from_client=False) == 187
