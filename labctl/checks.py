"""Evaluate a lab's checks against the running lab.

Node checks go through testinfra hosts (see hosts.py), whose answers are
fetched in one exec per node; packet checks read every capturing node's
pcap once. Captures are read before the active checks (http, echo, ...)
send anything, so packet checks judge the traffic of the lab's steps.
Failures are explained in the course's terms, with what was expected and
what was seen.
"""

from __future__ import annotations

import re
import shlex
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from labctl import hosts, model
from labctl.analysis import Analysis, Conversation, analyse
from labctl.runtime import DockerRuntime, NodeInfo

CHECK_TIMEOUT = 10  # seconds for a command a check runs in a node


@dataclass
class CheckResult:
    index: int
    kind: str
    title: str
    passed: bool
    message: str = ""  # why it failed, in teaching terms
    expected: str = ""
    seen: str = ""
    seconds: float = 0.0


class Failed(Exception):
    def __init__(self, message: str, expected: str = "", seen: str = ""):
        super().__init__(message)
        self.message, self.expected, self.seen = message, expected, seen


class LabState:
    """What the checks read from a running lab; each piece fetched once."""

    def __init__(self, runtime: DockerRuntime, nodes: dict[str, NodeInfo]):
        self.runtime = runtime
        self.nodes = nodes
        self.hosts = {name: hosts.host(runtime, info.container, name)
                      for name, info in nodes.items()}
        self.captures: list[tuple[str, Analysis]] = []
        self._lock = threading.Lock()

    def ip(self, node: str) -> str:
        return self.nodes[node].ip

    def ips(self, node: str) -> list[str]:
        """Every address of a node, primary first (a router has one per network)."""
        info = self.nodes[node]
        return [info.ip] + [ip for ip in info.addresses.values() if ip != info.ip]

    def run(self, node: str, command: str) -> tuple[int, str, str]:
        code, out, err = self.runtime.run(
            self.nodes[node].container,
            ["timeout", str(CHECK_TIMEOUT), "/bin/sh", "-c", command])
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def prefetch(self, checks: list[model.Check]) -> None:
        """One exec per node for its ss/ps listings, plus every capture, in parallel."""
        wanted: dict[str, list[str]] = {}
        for check in checks:
            if check.kind in ("listening", "process", "sockets"):
                node = check.spec.node
                commands = wanted.setdefault(node, list(hosts.DISCOVERY))
                commands += {"listening": hosts.SOCKETS, "process": hosts.PROCESSES,
                             "sockets": [SS_ALL]}[check.kind]
        jobs: list[Callable[[], None]] = [
            (lambda n=n, c=c: self.hosts[n].backend.prefetch(c)) for n, c in wanted.items()]
        if any(c.kind in model.WIRE_KINDS for c in checks):
            jobs += [(lambda i=info: self._read_capture(i)) for info in self.nodes.values()
                     if info.capture]
        if jobs:
            with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
                list(pool.map(lambda job: job(), jobs))

    def _read_capture(self, info: NodeInfo) -> None:
        data = self.runtime.read_file(info.container, info.capture)
        result = analyse(data)
        with self._lock:
            self.captures.append((info.node, result))

    def conversations(self, client: str, server: str, port: int, seen_on: str | None = None
                      ) -> list[Conversation]:
        for node, result in sorted(self.captures, key=lambda c: c[0]):
            if seen_on is not None and node != seen_on:
                continue
            for client_ip in self.ips(client):
                for server_ip in self.ips(server):
                    found = result.find(server_port=port, client_ip=client_ip,
                                        server_ip=server_ip)
                    if found:
                        return found
        return []


SS_ALL = "ss -Htan"


def title(check: model.Check) -> str:
    if check.name:
        return check.name
    s = check.spec
    match check.kind:
        case "listening":
            verb = "listens" if s.listening else "does not listen"
            return f"{s.node} {verb} on {s.proto} {s.address}:{s.port}"
        case "process":
            return f"process '{s.name}' {'runs' if s.running else 'is not running'} on {s.node}"
        case "reachable":
            return f"{s.from_} {'reaches' if s.reachable else 'cannot reach'} {s.to}:{s.port}"
        case "handshake":
            return f"3-way handshake {s.client} → {s.server}:{s.port}"
        case "no_handshake":
            return f"UDP {s.client} → {s.server}:{s.port} without any handshake"
        case "teardown":
            return f"teardown {s.client} → {s.server}:{s.port} by {s.kind.upper()}"
        case "mss":
            return f"MSS {s.mss} in {s.client}'s SYN to {s.server}:{s.port}"
        case "retransmissions":
            return (f"{_range(s.at_least, s.at_most)} retransmissions "
                    f"{s.client} → {s.server}:{s.port}")
        case "datagrams":
            return f"{_range(s.at_least, s.at_most)} UDP datagrams {s.client} → {s.server}:{s.port}"
        case "http":
            return f"HTTP GET {s.url} from {s.from_} → {s.status}"
        case "echo":
            return f"echo {s.from_} → {s.to}:{s.port} returns {s.message!r}"
        case "udp_delivered":
            return f"UDP datagram {s.from_} → {s.to}:{s.port} delivered"
        case "command":
            return f"on {s.on}: {s.run}"
        case "sockets":
            bounds = []
            if s.at_least is not None:
                bounds.append(f"≥ {s.at_least}")
            if s.at_most is not None:
                bounds.append(f"≤ {s.at_most}")
            port = f" on port {s.port}" if s.port else ""
            return f"{s.node}: {' and '.join(bounds) or 'any'} {s.state} sockets{port}"
    return check.kind  # pragma: no cover


def run_checks(state: LabState, checks: list[model.Check]) -> list[CheckResult]:
    start = time.perf_counter()
    state.prefetch(checks)
    prefetch_time = time.perf_counter() - start

    def evaluate(item: tuple[int, model.Check]) -> CheckResult:
        index, check = item
        began = time.perf_counter()
        result = CheckResult(index, check.kind, title(check), True)
        try:
            CHECKERS[check.kind](state, check.spec)
        except Failed as failure:
            result.passed = False
            result.message, result.expected, result.seen = (failure.message, failure.expected,
                                                             failure.seen)
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            result.passed = False
            result.message = f"the check could not run: {type(exc).__name__}: {exc}"
        result.seconds = time.perf_counter() - began + prefetch_time / max(1, len(checks))
        return result

    if not checks:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(checks))) as pool:
        return list(pool.map(evaluate, enumerate(checks)))


# -- node checks -----------------------------------------------------------------

def check_listening(state: LabState, s: model.ListeningCheck) -> None:
    host = state.hosts[s.node]
    spec = f"{s.proto}://{s.address}:{s.port}"
    listening = host.socket(spec).is_listening
    if listening == s.listening:
        return
    # Docker's embedded DNS (127.0.0.11) listens in every node; it is not the lab's.
    seen = sorted(s for s in host.socket.get_listening_sockets() if "127.0.0.11:" not in s)
    seen_text = ", ".join(seen) or "nothing"
    if s.listening:
        raise Failed(f"nothing listens on {s.proto} {s.address}:{s.port} on {s.node} — is the "
                     f"service started, and on the port the lab expects?",
                     expected=spec, seen=seen_text)
    raise Failed(f"{s.proto} port {s.port} is listening on {s.node}, but should not be",
                 expected=f"not {spec}", seen=seen_text)


def check_process(state: LabState, s: model.ProcessCheck) -> None:
    procs = state.hosts[s.node].process.filter()
    found = [p for p in procs if p.comm == s.name or s.name in p.args.split()
             or s.name in p.args]
    if bool(found) == s.running:
        return
    names = ", ".join(sorted({p.comm for p in procs}))
    if s.running:
        raise Failed(f"no process '{s.name}' runs on {s.node}", expected=s.name, seen=names)
    raise Failed(f"process '{s.name}' runs on {s.node} but should not",
                 expected=f"no {s.name}", seen=", ".join(p.args for p in found))


def check_reachable(state: LabState, s: model.ReachableCheck) -> None:
    code, _, err = state.run(s.from_, f"nc -z -w 2 {shlex.quote(s.to)} {s.port}")
    if (code == 0) == s.reachable:
        return
    if s.reachable:
        raise Failed(f"{s.from_} cannot open a TCP connection to {s.to}:{s.port} — no "
                     "SYN/ACK came back: is a service listening there?",
                     expected="connection accepted", seen=err.strip() or f"exit code {code}")
    raise Failed(f"{s.from_} reached {s.to}:{s.port}, which should be unreachable",
                 expected="no connection", seen="connection accepted")


def check_command(state: LabState, s: model.CommandCheck) -> None:
    code, out, err = state.run(s.on, s.run)
    if s.exit_code is not None and code != s.exit_code:
        raise Failed(f"`{s.run}` on {s.on} exited with {code}",
                     expected=f"exit code {s.exit_code}", seen=_tail(err or out))
    if s.stdout_contains is not None and s.stdout_contains not in out:
        raise Failed(f"`{s.run}` on {s.on} did not print {s.stdout_contains!r}",
                     expected=s.stdout_contains, seen=_tail(out))
    if s.stdout_matches is not None and not re.search(s.stdout_matches, out, re.M):
        raise Failed(f"`{s.run}` on {s.on}: output does not match /{s.stdout_matches}/",
                     expected=s.stdout_matches, seen=_tail(out))


def check_sockets(state: LabState, s: model.SocketsCheck) -> None:
    result = state.hosts[s.node].run(SS_ALL)
    count = 0
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] != s.state:
            continue
        ports = {fields[3].rsplit(":", 1)[-1], fields[4].rsplit(":", 1)[-1]}
        if s.port is None or str(s.port) in ports:
            count += 1
    low_ok = s.at_least is None or count >= s.at_least
    high_ok = s.at_most is None or count <= s.at_most
    if low_ok and high_ok:
        return
    want = title(model.Check(sockets=s)).split(": ", 1)[1]
    raise Failed(f"{s.node} has {count} sockets in state {s.state}"
                 f"{f' on port {s.port}' if s.port else ''}", expected=want, seen=str(count))


# -- traffic checks (active) -------------------------------------------------------

def check_http(state: LabState, s: model.HttpCheck) -> None:
    headers = " ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in s.request_headers.items())
    code, out, err = state.run(s.from_, f"curl -s -S --compressed -D - {headers} "
                                        f"--max-time 5 {shlex.quote(s.url)}")
    if code != 0:
        raise Failed(f"{s.from_} got no HTTP answer from {s.url} (curl exit code {code}) — "
                     "is the web server running and listening?",
                     expected=f"HTTP {s.status}", seen=err.strip())
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    got = {k.strip().lower(): v.strip() for k, _, v in
           (line.partition(":") for line in lines[1:])}
    if status != s.status:
        raise Failed(f"{s.url} answered {status}", expected=str(s.status), seen=lines[0])
    for key, value in s.headers.items():
        if got.get(key.lower()) != value:
            raise Failed(f"response header {key} is {got.get(key.lower())!r}",
                         expected=f"{key}: {value}", seen="; ".join(lines[1:]))
    if s.body_contains is not None and s.body_contains not in body:
        raise Failed(f"the page from {s.url} does not contain {s.body_contains!r}",
                     expected=s.body_contains, seen=_tail(body))


_ECHO = """
import socket, sys
sd = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
sd.sendall(sys.argv[3].encode())
data = b""
while len(data) < len(sys.argv[3].encode()):
    chunk = sd.recv(1024)
    if not chunk:
        break
    data += chunk
sd.close()
sys.stdout.write(data.decode(errors="replace"))
"""

_UDP_SEND = """
import socket, sys
sd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sd.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
sd.close()
"""


def check_echo(state: LabState, s: model.EchoCheck) -> None:
    argv = " ".join(shlex.quote(a) for a in (_ECHO, s.to, str(s.port), s.message))
    code, out, err = state.run(s.from_, f"python3 -c {argv}")
    if code != 0:
        reason = err.strip().splitlines()[-1] if err.strip() else f"exit code {code}"
        raise Failed(f"{s.from_} could not talk to the echo server {s.to}:{s.port} — "
                     f"{reason}", expected=repr(s.message), seen=reason)
    if out != s.message:
        raise Failed("the echo server sent back something else", expected=repr(s.message),
                     seen=repr(out))


def check_udp_delivered(state: LabState, s: model.UdpDeliveredCheck) -> None:
    argv = " ".join(shlex.quote(a) for a in (_UDP_SEND, s.to, str(s.port), s.message))
    code, _, err = state.run(s.from_, f"python3 -c {argv}")
    if code != 0:
        raise Failed(f"{s.from_} could not send to {s.to}:{s.port}", seen=err.strip())
    wanted = f"Received: ({s.message.encode()!r}, ('{state.ip(s.from_)}', "
    deadline = time.monotonic() + 3
    while True:
        logs = b"".join(state.runtime.logs(state.nodes[s.to].container, follow=False,
                                           tail=200)).decode("utf-8", "replace")
        if wanted in logs:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise Failed(f"{s.to} never printed the datagram from {s.from_} — UDP gives no "
                 "acknowledgement, so a lost datagram is simply gone. Is the UDP service "
                 f"listening on {s.port}?", expected=wanted + "...)",
                 seen=_tail("\n".join(x for x in logs.splitlines() if "Received" in x)
                            or "no datagram received"))


# -- packet checks (read from captures) ---------------------------------------------

def _conversations_or_explain(state: LabState, s: model.WireCheck) -> list[Conversation]:
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


def check_handshake(state: LabState, s: model.HandshakeCheck) -> None:
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


def check_no_handshake(state: LabState, s: model.NoHandshakeCheck) -> None:
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


def check_teardown(state: LabState, s: model.TeardownCheck) -> None:
    convs = _conversations_or_explain(state, s)
    kinds = [c.teardown_kind for c in convs]
    if s.kind in kinds:
        return
    described = {"fin": "closed by FIN/ACK in both directions", "fin-half": "closed in one "
                 "direction only (one FIN)", "rst": "aborted by RST", None: "still open"}
    raise Failed(f"the connection {s.client} → {s.server}:{s.port} was "
                 f"{described[kinds[0]]}", expected=s.kind.upper(), seen=_flags(convs[0]))


def check_mss(state: LabState, s: model.MssCheck) -> None:
    convs = _conversations_or_explain(state, s)
    seen = [c.mss.get("client") for c in convs]
    if s.mss in seen:
        return
    raise Failed(f"{s.client}'s SYN announced MSS {seen[0]} — MSS = MTU - 40 (20 bytes IPv4 "
                 f"header + 20 bytes TCP header)", expected=str(s.mss), seen=str(seen[0]))


def check_retransmissions(state: LabState, s: model.RetransmissionsCheck) -> None:
    convs = _conversations_or_explain(state, s)
    total = sum(c.retransmissions for c in convs)
    if total >= s.at_least and (s.at_most is None or total <= s.at_most):
        return
    raise Failed(f"{total} retransmissions seen {s.client} → {s.server}:{s.port}"
                 + (" — is the link lossy? TCP only retransmits what was lost" if not total
                    else ""), expected=_range(s.at_least, s.at_most), seen=str(total))


def check_datagrams(state: LabState, s: model.DatagramsCheck) -> None:
    clients, servers = set(state.ips(s.client)), set(state.ips(s.server))
    total = sum(len(f.datagrams) for node, result in state.captures
                if s.seen_on is None or node == s.seen_on for f in result.udp_flows
                if f.src[0] in clients and f.dst[0] in servers and f.dst[1] == s.port)
    if total >= s.at_least and (s.at_most is None or total <= s.at_most):
        return
    raise Failed(f"{total} UDP datagrams {s.client} → {s.server}:{s.port} on the wire",
                 expected=_range(s.at_least, s.at_most), seen=str(total))


def _range(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low}"
    return f"exactly {low}" if low == high else f"between {low} and {high}"


def _flags(conv: Conversation) -> str:
    shown = [f"{'→' if seg.from_client else '←'}{seg.packet.flags_text}"
             for seg in conv.segments[:8]]
    return " ".join(shown) + (" …" if len(conv.segments) > 8 else "")


def _tail(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


CHECKERS: dict[str, Callable] = {
    "listening": check_listening, "process": check_process, "reachable": check_reachable,
    "handshake": check_handshake, "no_handshake": check_no_handshake,
    "teardown": check_teardown, "mss": check_mss, "retransmissions": check_retransmissions,
    "datagrams": check_datagrams,
    "http": check_http, "echo": check_echo, "udp_delivered": check_udp_delivered,
    "command": check_command, "sockets": check_sockets,
}
