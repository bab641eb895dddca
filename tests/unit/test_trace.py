from labctl.pcap.generate import ACK, FIN, PSH, RST, SYN, Wire
from labctl.trace import layers as trace_layers
from labctl.trace import views as trace
from labctl.trace.analysis import analyse

NAMES = trace.Names({"10.0.0.3": "client", "10.0.0.2": "server"})


def conversation():
    w = Wire()
    w.handshake()
    w.tcp("c", FIN | ACK, ack=w.seq["s"])
    w.tcp("s", FIN | ACK, ack=w.seq["c"])
    w.tcp("c", ACK, ack=w.seq["s"])
    return analyse(w.pcap())


def test_layer_rows_follow_the_seeds_table():
    conv = conversation().conversations[0]
    rows = trace.layer_rows(conv.handshake[0], trace.LAB_MEDIUM)
    assert [r[:3] for r in rows] == [["Transport Layer", "TCP", "Segments"],
                                     ["Network Layer", "IPv4", "Packets"],
                                     ["Data Link Layer", "Ethernet", "Frames"],
                                     ["Physical Layer", "veth pair, Linux bridge", "Bits"]]
    # The frame's leading bits: the destination MAC bc:f2:b8:57:86:02 comes first.
    assert rows[3][3:] == ["10111100 11110010 10111000", "01010111 10000110",
                           "00000010 10111100", "00110101 11011011"]
    assert rows[0][3] == "3-Way handshake (SYN)"
    assert rows[0][4] == "Src Port: 35310 Dst Port: 80"
    assert rows[1][5] == "Src IP: 10.0.0.3 Dst IP: 10.0.0.2"
    assert rows[2][6] == "Src MAC: bc:35:db:cf:1b:03 Dst MAC: bc:f2:b8:57:86:02"


def test_ladder_has_one_arrow_per_segment_in_the_right_direction():
    conv = conversation().conversations[0]
    lines = trace.ladder_text(conv, NAMES).splitlines()
    assert "client 10.0.0.3:35310" in lines[0] and "server 10.0.0.2:80" in lines[0]
    arrows = lines[1:]
    assert len(arrows) == len(conv.segments)
    assert arrows[0].rstrip().endswith("▶│") and "SYN seq=0" in arrows[0]
    assert "◀" in arrows[1] and "SYN/ACK seq=0 ack=1" in arrows[1]


def test_svg_and_html_are_well_formed():
    import xml.etree.ElementTree as ET

    analysis = conversation()
    svg = trace.ladder_svg(analysis.conversations[0], NAMES)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert len([e for e in root.iter() if e.tag.endswith("line")]) == 2 + 6
    page = trace.html_page(analysis, NAMES, "demo")
    # handshake (3) + teardown (FIN, FIN, final ACK) + the segment list
    assert page.count("<table>") == 3 + 3 + 1
    assert "<svg" in page and "Legend" in page
    assert "Raw initial sequence numbers: client 100, server 500" in page
    assert "title='raw seq 100, raw ack 0, ISN 100'" in page


def test_svg_draws_every_connection():
    import xml.etree.ElementTree as ET

    w = Wire()
    for isn in (100, 9000, 70000):
        w.seq = {"c": isn, "s": isn * 2}
        w.handshake()
    analysis = analyse(w.pcap())
    root = ET.fromstring(trace.ladders_svg(analysis.conversations, NAMES))
    groups = [e for e in root.iter() if e.tag.endswith("}g") and e.get("class") == "connection"]
    assert [g.get("id") for g in groups] == ["conn-0", "conn-1", "conn-2"]
    with_tables = trace.ladders_svg(analysis.conversations[:1], NAMES, tables=True)
    ET.fromstring(with_tables)
    assert with_tables.count(">Physical Layer<") == 3  # SYN, SYN/ACK, ACK: one table each
    assert "class=\"legend\"" in with_tables


def test_two_views_sender_top_down_receiver_bottom_up():
    analysis = conversation()
    matcher = trace.Matcher(analysis)
    names = {"10.0.0.3": "client", "10.0.0.2": "server"}
    syn = analysis.conversations[0].handshake[0]
    sent, received = trace_layers.views(syn, names, "server",
                                        {"server": matcher, "client": matcher}, "veth")
    assert sent.title == "#1 3-Way handshake (SYN): client sends (captured on client, #1)"
    assert [r[0] for r in sent.rows] == ["Transport Layer", "Network Layer", "Data Link Layer",
                                         "Physical Layer"]
    assert received.title.startswith("#1 3-Way handshake (SYN): server receives")
    assert [r[0] for r in received.rows] == ["Physical Layer", "Data Link Layer",
                                             "Network Layer", "Transport Layer"]
    only_sender = trace_layers.views(syn, names, "client", {"client": matcher}, "veth")
    assert len(only_sender) == 1


def test_json_data_names_nodes_and_handshake():
    data = trace.to_data(conversation(), NAMES)
    tcp = data["tcp"][0]
    assert tcp["client"]["node"] == "client" and tcp["server"]["port"] == 80
    assert tcp["handshake"] == [1, 2, 3]
    assert tcp["teardown"] == "fin"
    assert tcp["segments"][0]["flags"] == ["SYN"]


def test_cooked_captures_say_whose_bits_the_physical_row_shows():
    w = Wire(link="sll2")
    w.handshake()
    syn = analyse(w.pcap()).conversations[0].handshake[0]
    rows = trace.layer_rows(syn, trace.LAB_MEDIUM)
    assert rows[2][1] == "Linux cooked v2 (SLL2)"
    assert rows[2][6] == "Src MAC: bc:35:db:cf:1b:03 (a cooked capture keeps no Dst MAC)"
    assert rows[3][3].startswith("(Linux cooked v2 (SLL2) header, not the wire) 00001000")


def test_only_the_ack_that_ends_a_teardown_is_titled_teardown():
    """A data ACK, a window update and a server's bare ACK before any data are no teardown;
    the handshake's third packet is, with or without data; the ACK of the last FIN is."""
    w = Wire()
    w.handshake()
    w.tcp("s", ACK, ack=w.seq["c"], window=32000)  # window update, seq=1 ack=1
    w.tcp("c", ACK, b"GET / HTTP/1.0\r\n\r\n", ack=w.seq["s"])
    w.tcp("s", ACK, ack=w.seq["c"])  # acknowledges the data
    w.tcp("s", ACK, b"HTTP/1.0 200 OK\r\n\r\n", ack=w.seq["c"])
    w.tcp("c", ACK, ack=w.seq["s"])  # acknowledges the data
    w.tcp("c", FIN | ACK, ack=w.seq["s"])
    w.tcp("s", ACK, ack=w.seq["c"])  # answers the first FIN
    w.tcp("s", FIN | ACK, ack=w.seq["c"])
    w.tcp("c", ACK, ack=w.seq["s"])  # answers the last FIN
    conv, = analyse(w.pcap()).conversations
    titles = [trace.info_text(s) for s in conv.segments]
    assert titles == ["3-Way handshake (SYN)", "3-Way handshake (SYN/ACK)",
                      "3-Way handshake (ACK)", "ACK", "data", "ACK", "data", "ACK",
                      "Teardown (FIN/ACK)", "Teardown (ACK)", "Teardown (FIN/ACK)",
                      "Teardown (ACK)"]
    views = trace.conversation_views(conv, {}, "", {}, "", every_packet=True)
    assert sum(v.title.count("Teardown (ACK)") for v in views) == 2
    # The ladder colours the teardown's ACKs as the legend says, the data ACKs not.
    svg = trace.ladder_svg(conv, NAMES)
    assert svg.count('stroke="#8e44ad"') == 4 and svg.count('stroke="#1f6feb"') == 3


def test_a_handshake_ack_carrying_data_and_an_abort_keep_their_titles():
    w = Wire()
    w.tcp("c", SYN, mss=1460)
    w.tcp("s", SYN | ACK, ack=w.seq["c"], mss=1460)
    w.tcp("c", ACK | PSH, b"hello", ack=w.seq["s"])
    w.tcp("s", ACK, ack=w.seq["c"])
    w.tcp("c", RST | ACK, ack=w.seq["s"])
    conv, = analyse(w.pcap()).conversations
    assert [trace.info_text(s) for s in conv.segments] == [
        "3-Way handshake (SYN)", "3-Way handshake (SYN/ACK)", "3-Way handshake (ACK+data)",
        "ACK", "Connection abort (RST/ACK)"]
