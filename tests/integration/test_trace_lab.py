"""Capture in handshake-lab and trace it: the handshake with Docker's real MACs and IPs."""

import base64
import json

import pytest

from labctl.trace.analysis import analyse
from tests.conftest import run_labctl

pytestmark = pytest.mark.docker


@pytest.fixture
def traced_lab(lab_up, engine, instance):
    lab_up("handshake-lab")
    nodes = {n.node: n for n in engine.status("handshake-lab", instance)}
    code, _, err = engine.runtime.run(nodes["client"].container,
                                      ["curl", "-s", "--compressed", "http://server/"])
    assert code == 0, err
    return nodes


def put_file(api, container, path, data):
    """Write a file into a node through the node: its root filesystem is read-only, so the
    engine refuses its archive API even for a tmpfs such as /tmp."""
    exec_id = api.exec_create(container, ["sh", "-c", 'printf %s "$1" | base64 -d > "$2"', "sh",
                                          base64.b64encode(data).decode(), path])["Id"]
    out = api.exec_start(exec_id)
    assert api.exec_inspect(exec_id)["ExitCode"] == 0, out


def test_trace_json_shows_handshake_with_real_macs_and_ips(traced_lab, instance):
    result = run_labctl("trace", "handshake-lab", "-i", instance, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    client, server = traced_lab["client"], traced_lab["server"]
    conv = next(c for c in data["tcp"] if c["server"]["port"] == 80)
    assert conv["handshake_complete"]
    assert (conv["client"]["ip"], conv["server"]["ip"]) == (client.ip, server.ip)
    assert (conv["client"]["mac"], conv["server"]["mac"]) == (client.mac, server.mac)
    assert (conv["client"]["node"], conv["server"]["node"]) == ("client", "server")
    segments = {s["number"]: s for s in conv["segments"]}
    syn, syn_ack, ack = (segments[n] for n in conv["handshake"])
    assert syn["flags"] == ["SYN"] and syn_ack["flags"] == ["SYN", "ACK"]
    assert ack["flags"] == ["ACK"]
    assert syn_ack["ack"] == (syn["seq"] + 1) % 2**32 and ack["ack"] == syn_ack["seq"] + 1
    assert (syn["src_mac"], syn["dst_mac"]) == (client.mac, server.mac)
    assert (syn_ack["src_mac"], syn_ack["dst_mac"]) == (server.mac, client.mac)
    assert syn["mss"] == 1460


def test_trace_prints_layer_tables_and_ladder(traced_lab, instance, tmp_path):
    svg = tmp_path / "ladder.svg"
    drawn = run_labctl("trace", "handshake-lab", "-i", instance, "--svg", str(svg))
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout == ""  # --svg writes the picture, not the whole text trace too
    result = run_labctl("trace", "handshake-lab", "-i", instance)
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # lines wrap at the width (80 in a pipe)
    assert "3-Way handshake (SYN)" in out and "3-Way handshake (SYN/ACK)" in out
    assert f"Src MAC: {traced_lab['client'].mac} Dst MAC: {traced_lab['server'].mac}" in out
    assert "Data Link Layer" in out and "Transport Layer" in out
    assert "▶│" in out and "│◀" in out
    assert svg.read_text().startswith("<svg")


def test_capture_copies_pcaps_that_tcpdump_reads(traced_lab, instance, tmp_path, api):
    result = run_labctl("capture", "handshake-lab", "-i", instance, "-o", str(tmp_path),
                        "--merge")
    assert result.returncode == 0, result.stderr
    pcap = tmp_path / "handshake-lab-server.pcap"
    merged = analyse((tmp_path / "handshake-lab-merged.pcapng").read_bytes())
    assert merged.format == "pcapng"
    assert {i.name for i in merged.interfaces} == {"server", "client"}
    conv = analyse(pcap.read_bytes()).find(server_port=80)[0]
    assert conv.handshake_complete and conv.client_mac == traced_lab["client"].mac
    # An independent reader: tcpdump, run in the lab's client on the copied file.
    client = traced_lab["client"].container
    put_file(api, client, "/tmp/copied.pcap", pcap.read_bytes())
    exec_id = api.exec_create(client, ["tcpdump", "-r", "/tmp/copied.pcap", "-n", "-e"])["Id"]
    text = api.exec_start(exec_id).decode()
    assert api.exec_inspect(exec_id)["ExitCode"] == 0, text
    server_ip = traced_lab["server"].ip
    assert f"> {server_ip}.80: Flags [S]," in text
    assert f"{server_ip}.80 > " in text and "Flags [S.]," in text
    assert traced_lab["client"].mac in text


def test_capture_of_a_node_without_capture_is_a_clear_error(lab_up, instance, tmp_path):
    from labctl.lab import loader

    lab = loader.load("handshake-lab")
    client = lab.nodes["client"].model_copy(update={"capture": None})
    lab_up(lab.model_copy(update={"name": "nocapture-lab",
                                  "nodes": {**lab.nodes, "client": client}}))
    result = run_labctl("capture", "nocapture-lab", "client", "-i", instance, "-o",
                        str(tmp_path))
    assert result.returncode == 2
    assert "captures nothing" in result.stderr


def test_syn_drawn_as_the_client_sent_it_and_as_the_server_got_it(traced_lab, instance):
    """Both nodes capture: the sender's table top down, the receiver's bottom up."""
    result = run_labctl("trace", "handshake-lab", "server", "-i", instance, "--port", "80",
                        env={"COLUMNS": "220"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    client, server = traced_lab["client"], traced_lab["server"]
    sent = _table(out, "3-Way handshake (SYN): client sends (captured on client")
    got = _table(out, "3-Way handshake (SYN): server receives (captured on server")
    assert [row[0] for row in sent] == ["Transport Layer", "Network Layer", "Data Link Layer",
                                        "Physical Layer"]
    assert [row[0] for row in got] == ["Physical Layer", "Data Link Layer", "Network Layer",
                                       "Transport Layer"]
    macs = f"Src MAC: {client.mac} Dst MAC: {server.mac}"
    ips = f"Src IP: {client.ip} Dst IP: {server.ip}"
    for table in (sent, got):
        rows = {row[0]: row for row in table}
        assert rows["Data Link Layer"][6] == macs
        assert rows["Network Layer"][5] == ips
        assert rows["Transport Layer"][4].endswith("Dst Port: 80")
        assert rows["Physical Layer"][1] == "veth pair, Linux bridge"
        # The frame starts with the destination MAC: the server's, as bits.
        first = " ".join(f"{int(b, 16):08b}" for b in server.mac.split(":")[:3])
        assert rows["Physical Layer"][3] == first
    assert sent[0][4] == got[3][4]  # the same ports, seen at both ends


def _table(out: str, title: str) -> list[list[str]]:
    """The rows of the rich table printed under a title line."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line)
    rows = []
    for line in lines[start + 4:]:
        if not line.startswith("│"):
            break
        rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows
