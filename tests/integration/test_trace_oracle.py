"""Captures made by real tools, read by labctl and by tshark, compared field by field.

The test builds two network namespaces joined by a veth pair (both removed at
the end), serves files with python's http.server, fetches them with curl over
IPv4 and IPv6, reuses one client port for connections aborted by RST, sends
fragmented UDP datagrams, and drops a tenth of the server's segments with
nftables as the client's namespace receives them, so retransmissions happen. dumpcap
writes pcapng, pcap, a 96-byte snaplen, Linux cooked v1 and v2 (`-i any`),
and one capture started mid-stream. Traffic stays between the two namespaces.

Documented differences with tshark: see tests/tshark_oracle.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tshark_oracle import compare, require_tshark

from labctl.trace.analysis import analyse

TAG = os.getpid() % 100000
CLIENT_NS, SERVER_NS = f"lct{TAG}c", f"lct{TAG}s"
CLIENT_IF, SERVER_IF = f"lct{TAG}c", f"lct{TAG}s"
V4 = ("10.250.77.1", "10.250.77.2")
V6 = ("fd00:250:77::1", "fd00:250:77::2")


def sh(*args: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    prefix = ["ip", "netns", "exec", ns] if ns else []
    return subprocess.run([*prefix, *args], capture_output=True, text=True, check=check,
                          timeout=60)


def spawn(*args: str, ns: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, **kwargs)


@pytest.fixture(scope="module")
def namespaces() -> Iterator[None]:
    require_tshark()
    for tool in ("dumpcap", "curl", "nft"):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is not installed")
            pytest.skip(f"{tool} is not installed")
    try:
        sh("ip", "netns", "add", CLIENT_NS)
    except subprocess.CalledProcessError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"cannot create network namespaces here: {exc.stderr.strip()}")
    try:
        sh("ip", "netns", "add", SERVER_NS)
        sh("ip", "link", "add", CLIENT_IF, "netns", CLIENT_NS, "type", "veth", "peer", "name",
           SERVER_IF, "netns", SERVER_NS)
        for ns, iface, v4, v6 in ((CLIENT_NS, CLIENT_IF, V4[0], V6[0]),
                                  (SERVER_NS, SERVER_IF, V4[1], V6[1])):
            sh("ip", "addr", "add", f"{v4}/24", "dev", iface, ns=ns)
            sh("ip", "addr", "add", f"{v6}/64", "dev", iface, "nodad", ns=ns)
            sh("ip", "link", "set", iface, "up", ns=ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        yield
    finally:
        sh("ip", "netns", "del", SERVER_NS, check=False)
        sh("ip", "netns", "del", CLIENT_NS, check=False)


class Dumpcap:
    def __init__(self, ns: str, path: Path, *args: str) -> None:
        self.path = path
        self.proc = spawn("dumpcap", "-q", *args, "-w", str(path), ns=ns)
        deadline = time.monotonic() + 10
        while not (path.exists() and path.stat().st_size > 0):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"dumpcap did not start writing {path}")
            time.sleep(0.05)
        time.sleep(0.3)

    def stop(self) -> Path:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        return self.path


REUSE_CLIENT = """
import socket, struct, sys
for i in range(3):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.bind(("0.0.0.0", 40404))
    s.connect((sys.argv[1], 8080))
    s.sendall(b"GET /small HTTP/1.0\\r\\n\\r\\n")
    s.recv(100)
    s.close()  # RST: no FIN, and the next connection reuses the port
"""
SLOW_CLIENT = """
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # a small window paces the sender
s.connect((sys.argv[1], 8080))
s.sendall(b"GET /big HTTP/1.0\\r\\n\\r\\n")
while s.recv(8192):
    time.sleep(0.002)
"""
UDP_SERVER = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9999))
s.settimeout(10)
for _ in range(3):
    s.recv(65535)
"""
UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for size in (4000, 9000, 200):
    s.sendto(b"u" * size, (sys.argv[1], 9999))
"""


@pytest.fixture(scope="module")
def captures(namespaces, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("oracle")
    www = root / "www"
    www.mkdir()
    (www / "small").write_bytes(b"s" * 2000)
    (www / "big").write_bytes(os.urandom(3_000_000))
    server = spawn("python3", "-m", "http.server", "8080", "--bind", "::", "-d", str(www),
                   ns=SERVER_NS)
    udp = spawn("python3", "-c", UDP_SERVER, ns=SERVER_NS)
    out: dict[str, Path] = {}
    try:
        _wait_listening()
        dumps = {
            "client.pcapng": Dumpcap(CLIENT_NS, root / "client.pcapng", "-i", CLIENT_IF),
            "client-snap96.pcap": Dumpcap(CLIENT_NS, root / "client-snap96.pcap", "-i",
                                          CLIENT_IF, "-P", "-s", "96"),
            "server-any-sll2.pcap": Dumpcap(SERVER_NS, root / "server-any-sll2.pcap", "-i",
                                            "any", "-P", "-y", "LINUX_SLL2"),
            "server-any-sll.pcapng": Dumpcap(SERVER_NS, root / "server-any-sll.pcapng", "-i",
                                             "any", "-y", "LINUX_SLL"),
        }
        curl = ["curl", "-s", "-o", "/dev/null", "--max-time", "20"]
        sh(*curl, f"http://{V4[1]}:8080/small", ns=CLIENT_NS)
        sh(*curl, "-g", f"http://[{V6[1]}]:8080/small", ns=CLIENT_NS)
        sh("python3", "-c", REUSE_CLIENT, V4[1], ns=CLIENT_NS)
        sh("python3", "-c", UDP_CLIENT, V4[1], ns=CLIENT_NS)
        _lossy(True)
        sh(*curl, f"http://{V4[1]}:8080/big", ns=CLIENT_NS)
        sh(*curl, "-g", f"http://[{V6[1]}]:8080/big", ns=CLIENT_NS)
        _lossy(False)
        slow = spawn("python3", "-c", SLOW_CLIENT, V4[1], ns=CLIENT_NS)
        time.sleep(0.5)
        mid = Dumpcap(CLIENT_NS, root / "client-midstream.pcap", "-i", CLIENT_IF, "-P")
        slow.wait(timeout=30)
        out["client-midstream.pcap"] = mid.stop()
        for name, dump in dumps.items():
            out[name] = dump.stop()
    finally:
        for proc in (server, udp):
            proc.terminate()
            proc.wait(timeout=10)
    return out


def _wait_listening() -> None:
    for _ in range(100):
        if ":8080" in sh("ss", "-Htln", ns=SERVER_NS).stdout:
            return
        time.sleep(0.05)
    raise RuntimeError("http.server did not listen")


def _lossy(on: bool) -> None:
    """Drop some of the server's segments as the client receives them: each was on the
    wire (both captures see it), so the server must send it again. (Dropping on the
    server's output would fail the send locally: TCP then just sends it later, in order.)"""
    if on:
        sh("nft", "add table inet lossy", ns=CLIENT_NS)
        sh("nft", "add chain inet lossy in { type filter hook input priority 0 ; }",
           ns=CLIENT_NS)
        sh("nft", "add rule inet lossy in tcp sport 8080 numgen random mod 10 0 drop",
           ns=CLIENT_NS)
    else:
        sh("nft", "delete table inet lossy", ns=CLIENT_NS)


NAMES = ["client.pcapng", "client-snap96.pcap", "server-any-sll2.pcap",
         "server-any-sll.pcapng", "client-midstream.pcap"]


@pytest.mark.parametrize("name", NAMES)
def test_real_capture_agrees_with_tshark(captures: dict[str, Path], name: str) -> None:
    path = captures[name]
    result = analyse(path.read_bytes())
    assert result.damage is None
    assert result.packets, f"{name} holds no TCP/UDP packet"
    cut_short = ("tcp.analysis.duplicate_ack",) if "snap96" in name else ()
    assert compare(path, result, ignore=cut_short) == []


def test_what_the_captures_hold(captures: dict[str, Path]) -> None:
    result = analyse(captures["client.pcapng"].read_bytes())
    ports = [c for c in result.conversations if c.client[1] == 40404]
    assert len(ports) == 3, "one reused port, three connections"
    assert all(c.teardown_kind == "rst" for c in ports)
    assert any(c.client[0] == V6[0] for c in result.conversations)
    assert sum(c.retransmissions for c in result.conversations) > 0
    assert sorted(p.length for f in result.udp_flows for p in f.datagrams) == [200, 4000, 9000]
    scaled = [s for c in result.conversations for s in c.segments if s.window > 65535]
    assert scaled, "window scaling shows in the calculated window"
    cooked = analyse(captures["server-any-sll2.pcap"].read_bytes())
    assert cooked.packets[0].linktype == 276
    assert len(cooked.conversations) == len(result.conversations)
    mid = analyse(captures["client-midstream.pcap"].read_bytes())
    assert not mid.conversations[0].handshake
    assert mid.conversations[0].segments[0].rel_seq == 1
