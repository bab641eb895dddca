"""Capture in handshake-lab and trace it: the handshake with Docker's real MACs and IPs."""

import io
import json
import tarfile

import pytest

from labctl.analysis import analyse
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
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(path.rsplit("/", 1)[1])
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    api.put_archive(container, path.rsplit("/", 1)[0], buffer.getvalue())


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
    result = run_labctl("trace", "handshake-lab", "-i", instance, "--svg", str(svg))
    assert result.returncode == 0, result.stderr
    out = result.stdout
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
    assert (tmp_path / "handshake-lab-merged.pcap").exists()
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


def test_capture_of_a_node_without_capture_is_a_clear_error(traced_lab, instance, tmp_path):
    result = run_labctl("capture", "handshake-lab", "client", "-i", instance, "-o",
                        str(tmp_path))
    assert result.returncode == 2
    assert "captures nothing" in result.stderr
