from labctl import trace
from labctl.analysis import analyse
from labctl.pcapgen import ACK, FIN, Wire

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
    rows = trace.layer_rows(conv.handshake[0])
    assert [r[:3] for r in rows] == [["Transport Layer", "TCP", "Segments"],
                                     ["Network Layer", "IP", "Packets"],
                                     ["Data Link Layer", "Ethernet", "Frames"]]
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
    assert "<svg" in page


def test_json_data_names_nodes_and_handshake():
    data = trace.to_data(conversation(), NAMES)
    tcp = data["tcp"][0]
    assert tcp["client"]["node"] == "client" and tcp["server"]["port"] == 80
    assert tcp["handshake"] == [1, 2, 3]
    assert tcp["teardown"] == "fin"
    assert tcp["segments"][0]["flags"] == ["SYN"]
