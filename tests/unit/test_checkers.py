"""Every checker, passing and failing, on a lab in the in-memory runtime.

Nodes answer commands as real ones would (fakelab.Shell); packet checks
read pcaps crafted with labctl.pcap.generate, put where the node's capture is.
"""

from __future__ import annotations

import pytest
from fakelab import Shell, install, up

from labctl.checks.run import LabState, run_checks
from labctl.pcap.generate import ACK, FIN, PSH, RST, SYN, Wire

LAB = """
name: demo
nodes:
  server:
    services: [http, echo, udp]
    capture: {}
  client: {}
"""
SS_TCP = ("State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
          "LISTEN 0      5      0.0.0.0:80         0.0.0.0:*\n"
          "LISTEN 0      5      127.0.0.11:40000   0.0.0.0:*\n")
SS_UDP = "State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
PS = ("".join(f"{h:<51}" for h in ["COMMAND", "%CPU", "PID", "%MEM", "STARTED"]) + "COMMAND\n"
      + "".join(f"{v:<51}" for v in ["python3", "0.0", "7", "0.1",
                                     "Sat Nov 21 10:00:00 2026"])
      + "python3 -u /opt/labctl/services/http_server.py --port 80\n")
HTTP_OK = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\nHello World!"


@pytest.fixture
def lab():
    engine, _, nodes = up(LAB)
    shells = {"server": Shell({
        "/usr/bin/ss --numeric --listening --tcp --udp": (0, SS_TCP),
        "/usr/bin/ss --numeric --listening --tcp": (0, SS_TCP),
        "/usr/bin/ss --numeric --listening --udp": (0, SS_UDP),
        "ps -Aww": (0, PS),
        "ss -Htan": (0, "LISTEN 0 5 0.0.0.0:80 0.0.0.0:*\nESTAB 0 0 10.0.0.2:80 10.0.0.3:5\n"),
        "lsof": (0, "python3 7 root 3u IPv4 TCP *:80 (LISTEN)\n"),
    }), "client": Shell({
        "' server 80": (0, ""),
        "' server 443": (1, "server:443: Connection refused"),
        "curl": (0, HTTP_OK),
        "sd.recv(1024)": (0, "Hello, world"),
        "SOCK_DGRAM": (0, ""),
    })}
    install(engine.runtime, shells)
    return engine.runtime, nodes, shells


def run(lab, text: str):
    from labctl.lab import loader
    runtime, nodes, _ = lab
    checks = loader.parse(LAB + "checks:\n" + text, "lab.yaml").checks
    return run_checks(LabState(runtime, nodes), checks)


def passed(lab, text: str) -> bool:
    [result] = run(lab, text)
    return result.passed


def capture(lab, wire: Wire) -> None:
    runtime, nodes, _ = lab
    runtime.put_file(nodes["server"].container, nodes["server"].capture, wire.pcap())


def wire(lab, server_port: int = 80) -> Wire:
    _, nodes, _ = lab
    return Wire(client=(nodes["client"].ip, 40000, "02:42:0a:00:00:03"),
                server=(nodes["server"].ip, server_port, "02:42:0a:00:00:02"))


def test_listening(lab):
    assert passed(lab, "  - listening: {node: server, port: 80}")
    assert passed(lab, "  - listening: {node: server, port: 443, listening: false}")
    [failed] = run(lab, "  - listening: {node: server, port: 8080}")
    assert not failed.passed and "nothing listens on tcp 0.0.0.0:8080" in failed.message
    assert "127.0.0.11" not in failed.seen  # Docker's DNS is not the lab's


def test_listening_prefetches_in_one_exec_per_node(lab):
    runtime, _, _ = lab
    before = len(runtime.calls)
    run(lab, "  - listening: {node: server, port: 80}\n"
             "  - listening: {node: server, port: 443, listening: false}\n"
             "  - process: {node: server, name: http_server.py}")
    assert sum(1 for m, _ in runtime.calls[before:] if m == "run") == 1


def test_process(lab):
    assert passed(lab, "  - process: {node: server, name: http_server.py}")
    assert passed(lab, "  - process: {node: server, name: nginx, running: false}")
    [failed] = run(lab, "  - process: {node: server, name: nginx}")
    assert failed.message == "no process 'nginx' runs on server" and "python3" in failed.seen


def test_reachable(lab):
    assert passed(lab, "  - reachable: {from: client, to: server, port: 80}")
    assert passed(lab, "  - reachable: {from: client, to: server, port: 443, reachable: false}")
    [failed] = run(lab, "  - reachable: {from: client, to: server, port: 443}")
    assert "cannot open a TCP connection to server:443" in failed.message


def test_command(lab):
    assert passed(lab, '  - command: {on: server, run: "lsof -i", stdout_contains: "*:80"}')
    [failed] = run(lab, '  - command: {on: server, run: "lsof -i", stdout_contains: ":443"}')
    assert "did not print ':443'" in failed.message
    [failed] = run(lab, '  - command: {on: server, run: "lsof -i", stdout_matches: "^nope"}')
    assert "does not match" in failed.message
    [failed] = run(lab, "  - command: {on: server, run: missing-tool}")
    assert "exited with 127" in failed.message


def test_sockets(lab):
    assert passed(lab, "  - sockets: {node: server, state: LISTEN, port: 80, at_least: 1}")
    [failed] = run(lab, "  - sockets: {node: server, state: ESTAB, at_least: 2}")
    assert failed.message == "server has 1 sockets in state ESTAB"
    assert failed.expected == "≥ 2 ESTAB sockets"


def test_http(lab):
    assert passed(lab, "  - http: {from: client, url: 'http://server/', "
                       "headers: {content-encoding: gzip}, body_contains: Hello}")
    [failed] = run(lab, "  - http: {from: client, url: 'http://server/', status: 404}")
    assert failed.message == "http://server/ answered 200"
    [failed] = run(lab, "  - http: {from: client, url: 'http://server/', body_contains: Bye}")
    assert "does not contain 'Bye'" in failed.message


def test_echo(lab):
    assert passed(lab, "  - echo: {from: client, to: server}")
    [failed] = run(lab, "  - echo: {from: client, to: server, message: other}")
    assert failed.message == "the echo server sent back something else"


def test_udp_delivered(lab, monkeypatch):
    runtime, nodes, _ = lab
    runtime.append_log(nodes["server"].container,
                       f"Received: (b'Hello World', ('{nodes['client'].ip}', 40000))\n")
    assert passed(lab, "  - udp_delivered: {from: client, to: server}")
    clock = iter(range(0, 100, 2))
    monkeypatch.setattr("labctl.lab.check_kinds.traffic.time.monotonic", lambda: next(clock))
    monkeypatch.setattr("labctl.lab.check_kinds.traffic.time.sleep", lambda _s: None)
    [failed] = run(lab, "  - udp_delivered: {from: client, to: server, message: lost}")
    assert "never printed the datagram" in failed.message


def test_handshake_and_teardown_and_mss(lab):
    w = wire(lab)
    w.handshake(mss=1460)
    w.tcp("c", FIN | ACK, ack=w.seq["s"])
    w.tcp("s", FIN | ACK, ack=w.seq["c"])
    w.tcp("c", ACK, ack=w.seq["s"])
    capture(lab, w)
    assert passed(lab, "  - handshake: {client: client, server: server, port: 80}")
    assert passed(lab, "  - teardown: {client: client, server: server, port: 80}")
    assert passed(lab, "  - mss: {client: client, server: server, port: 80, mss: 1460}")
    [failed] = run(lab, "  - mss: {client: client, server: server, port: 80, mss: 1452}")
    assert failed.seen == "1460" and "MSS = MTU - 40" in failed.message
    [failed] = run(lab, "  - teardown: {client: client, server: server, port: 80, kind: rst}")
    assert "closed by FIN/ACK in both directions" in failed.message


def test_handshake_refused_by_rst(lab):
    w = wire(lab)
    w.tcp("c", SYN, mss=1460)
    w.tcp("s", RST | ACK, ack=w.seq["c"])
    capture(lab, w)
    [failed] = run(lab, "  - handshake: {client: client, server: server, port: 80}")
    assert "answered client's SYN with RST" in failed.message


def test_wire_checks_explain_an_empty_capture(lab):
    capture(lab, wire(lab))
    [failed] = run(lab, "  - handshake: {client: client, server: server, port: 80}")
    assert "no SYN from client to server:80 in the capture" in failed.message


def test_retransmissions(lab):
    w = wire(lab)
    w.handshake()
    w.tcp("c", PSH | ACK, b"hello", ack=w.seq["s"], advance=False)
    w.tcp("c", PSH | ACK, b"hello", ack=w.seq["s"])
    capture(lab, w)
    assert passed(lab, "  - retransmissions: {client: client, server: server, port: 80}")
    [failed] = run(lab, "  - retransmissions: {client: client, server: server, port: 80, "
                        "at_least: 0, at_most: 0}")
    assert failed.expected == "exactly 0" and failed.seen == "1"


def test_datagrams_and_no_handshake(lab):
    w = wire(lab, server_port=50000)
    w.udp("c", b"one")
    w.udp("c", b"two")
    capture(lab, w)
    assert passed(lab, "  - datagrams: {client: client, server: server, port: 50000, "
                       "at_least: 2, at_most: 2}")
    assert passed(lab, "  - no_handshake: {client: client, server: server, port: 50000}")
    [failed] = run(lab, "  - datagrams: {client: client, server: server, port: 50000, "
                        "at_least: 3}")
    assert failed.seen == "2"
    [failed] = run(lab, "  - no_handshake: {client: client, server: server, port: 50001}")
    assert "no UDP datagram" in failed.message


def test_a_check_that_cannot_run_does_not_hide_the_others(lab):
    runtime, nodes, _ = lab
    runtime.stop(nodes["client"].container)  # the node died under the checks
    first, second = run(lab, "  - reachable: {from: client, to: server, port: 80}\n"
                             "  - sockets: {node: server, state: LISTEN, at_least: 1}")
    assert not first.passed and "could not run: RuntimeFailure" in first.message
    assert second.passed


def test_connections(lab):
    w = wire(lab)
    w.handshake()
    w.hosts["c"] = (w.hosts["c"][0], 40001, w.hosts["c"][2])  # a second client port
    w.handshake()
    capture(lab, w)
    assert passed(lab, "  - connections: {client: client, server: server, port: 80, "
                       "at_least: 2, at_most: 2}")
    [failed] = run(lab, "  - connections: {client: client, server: server, port: 80, "
                        "at_most: 1}")
    assert failed.expected == "exactly 1"
    assert failed.seen == "2" and "its own SYN" in failed.message


# One check of every wire kind, each passing on the student's traffic below.
EVERY_WIRE_KIND = {
    "handshake": "{client: client, server: server, port: 80}",
    "teardown": "{client: client, server: server, port: 80, kind: fin}",
    "mss": "{client: client, server: server, port: 80, mss: 1460}",
    "retransmissions": "{client: client, server: server, port: 80, at_least: 1}",
    "connections": "{client: client, server: server, port: 80, at_least: 1}",
    "datagrams": "{client: client, server: server, port: 50000, at_least: 1}",
    "no_handshake": "{client: client, server: server, port: 50000}",
}


def traffic_from(lab, client_port: int) -> Wire:
    """A TCP connection to :80 (one retransmission, FIN teardown) and a datagram to :50000."""
    _, nodes, _ = lab
    client = (nodes["client"].ip, client_port, "02:42:0a:00:00:03")
    w = Wire(client=client, server=(nodes["server"].ip, 80, "02:42:0a:00:00:02"))
    w.handshake(mss=1460)
    w.tcp("c", PSH | ACK, b"hello", ack=w.seq["s"], advance=False)
    w.tcp("c", PSH | ACK, b"hello", ack=w.seq["s"])
    w.tcp("c", FIN | ACK, ack=w.seq["s"])
    w.tcp("s", FIN | ACK, ack=w.seq["c"])
    w.tcp("c", ACK, ack=w.seq["s"])
    w.hosts["s"] = (w.hosts["s"][0], 50000, w.hosts["s"][2])
    w.udp("c", b"one")
    return w


def test_every_wire_kind_is_covered_by_the_probe_test():
    from labctl.lab.check_kinds import KINDS
    assert {k for k, kind in KINDS.items() if kind.reads_captures} == set(EVERY_WIRE_KIND)


@pytest.mark.parametrize("kind", sorted(EVERY_WIRE_KIND))
def test_wire_checks_ignore_labctls_own_probe_ports(lab, kind):
    check = f"  - {kind}: {EVERY_WIRE_KIND[kind]}"
    capture(lab, traffic_from(lab, 40000))  # the student's program: an ephemeral port
    assert passed(lab, check)
    capture(lab, traffic_from(lab, 61234))  # the same traffic from labctl's probe range
    [failed] = run(lab, check)
    assert not failed.passed
    assert "no SYN" in failed.message or "no UDP datagram" in failed.message or \
        failed.seen == "0"


def test_active_checks_send_from_the_probe_range(lab):
    runtime, nodes, shells = lab
    runtime.append_log(nodes["server"].container,  # the datagram arrived: no waiting it out
                       f"Received: (b'Hello World', ('{nodes['client'].ip}', 61000))\n")
    seen: list[str] = []
    reply = shells["client"].reply
    shells["client"].reply = lambda command: (seen.append(command), reply(command))[1]
    run(lab, "  - http: {from: client, url: 'http://server/'}\n"
             "  - echo: {from: client, to: server}\n"
             "  - udp_delivered: {from: client, to: server}\n"
             "  - reachable: {from: client, to: server, port: 80}")
    assert len(seen) == 4
    assert all("--local-port 61000-61999" in c or "range(61000, 62000)" in c for c in seen)
