"""Checks that send traffic through the lab: HTTP, a TCP echo, a UDP datagram."""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING

from pydantic import Field

from labctl.lab.check_kinds.registry import Failed, check_kind, tail
from labctl.lab.model_parts import NodeName, Port, Strict
from labctl.lab.probe_ports import CURL_OPTION, PYTHON_PRELUDE, python_command

if TYPE_CHECKING:
    from labctl.checks.run import LabState


class HttpCheck(Strict):
    from_: NodeName = Field(alias="from")
    url: str = Field(pattern=r"^https?://")
    status: int = Field(200, ge=100, le=599)
    headers: dict[str, str] = Field(default_factory=dict,
                                    description="Headers the response must carry.")
    request_headers: dict[str, str] = Field(default_factory=lambda: {"Accept-Encoding": "gzip"})
    body_contains: str | None = None


@check_kind("http", HttpCheck, lambda s: f"HTTP GET {s.url} from {s.from_} → {s.status}",
            nodes=("from_",))
def check_http(state: LabState, s: HttpCheck) -> None:
    headers = " ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in s.request_headers.items())
    code, out, err = state.run(s.from_, f"curl -s -S --compressed -D - {CURL_OPTION} {headers} "
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
                     expected=s.body_contains, seen=tail(body))


_ECHO = PYTHON_PRELUDE + """
sd = probe_socket()
sd.settimeout(5)
sd.connect((sys.argv[1], int(sys.argv[2])))
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

_UDP_SEND = PYTHON_PRELUDE + """
sd = probe_socket(socket.SOCK_DGRAM)
sd.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
sd.close()
"""


class EchoCheck(Strict):
    """Send a message to a TCP echo server; the same bytes must come back."""

    from_: NodeName = Field(alias="from")
    to: NodeName
    port: Port = 50007
    message: str = "Hello, world"


@check_kind("echo", EchoCheck, lambda s: f"echo {s.from_} → {s.to}:{s.port} returns {s.message!r}",
            nodes=("from_", "to"))
def check_echo(state: LabState, s: EchoCheck) -> None:
    code, out, err = state.run(s.from_, python_command(_ECHO, s.to, str(s.port), s.message))
    if code != 0:
        reason = err.strip().splitlines()[-1] if err.strip() else f"exit code {code}"
        raise Failed(f"{s.from_} could not talk to the echo server {s.to}:{s.port} — "
                     f"{reason}", expected=repr(s.message), seen=reason)
    if out != s.message:
        raise Failed("the echo server sent back something else", expected=repr(s.message),
                     seen=repr(out))


class UdpDeliveredCheck(Strict):
    """Send a datagram; the receiver's log must show it (`Received: ...`)."""

    from_: NodeName = Field(alias="from")
    to: NodeName
    port: Port = 50000
    message: str = "Hello World"


@check_kind("udp_delivered", UdpDeliveredCheck,
            lambda s: f"UDP datagram {s.from_} → {s.to}:{s.port} delivered", nodes=("from_", "to"))
def check_udp_delivered(state: LabState, s: UdpDeliveredCheck) -> None:
    code, _, err = state.run(s.from_, python_command(_UDP_SEND, s.to, str(s.port), s.message))
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
                 seen=tail("\n".join(x for x in logs.splitlines() if "Received" in x)
                            or "no datagram received"))
