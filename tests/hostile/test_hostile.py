"""A hostile student against a real classroom server (issue 18): real Unix users, real
Docker. Each test replays one attack while a second student and the instructor work,
and asserts what they still get. Bounds on time are generous: they prove "not hung"
(an answer at all within 10 s), never speed.

The attacker (a Unix user with a token, over HTTPS: many threads at once) and the
bystander (another Unix user, over the Unix socket, as the kernel says) are both
students; root over the socket is the instructor.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from labctl.classroom.client.api import Client, ServerError
from labctl.classroom.server import instances
from tests.conftest import SESSION_PREFIX
from tests.integration import server_harness
from tests.integration.test_server import LAB, api_down, running

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users: needs root")]

LIMITS = ("--concurrent-ups", "2", "--labs-per-student", "2", "--max-requests", "4",
          "--max-rate", "120", "--max-streams", "2", "--max-networks", "2",
          "--max-step-seconds", "30")
# One node whose step sleeps: a `test` of it spends its time in the step.
SLOW = """name: {name}
nodes:
  box: {{}}
steps:
  - on: box
    run: sleep {seconds}
    timeout: 120
"""
RSS_GOAL = 500 * 1024 * 1024


def _free_pool(api) -> str:
    """A /21 no Docker network overlaps: the module's server allocates only from it, so
    the subnet attack exhausts this pool, not the host's."""
    used = [ipaddress.IPv4Network(c["Subnet"]) for n in api.networks()
            for c in (n.get("IPAM") or {}).get("Config") or [] if "." in c.get("Subnet", "")]
    candidates = list(ipaddress.IPv4Network("10.214.0.0/16").subnets(new_prefix=21))
    random.shuffle(candidates)
    return str(next(c for c in candidates if not any(c.overlaps(u) for u in used)))


def _start(api, *extra: str, pool: str | None = None) -> server_harness.Server:
    saved = os.environ.get("LABCTL_SUBNET_POOL")
    if pool is not None:
        os.environ["LABCTL_SUBNET_POOL"] = pool
    try:
        return server_harness.start(*LIMITS, *extra)
    finally:
        if saved is None:
            os.environ.pop("LABCTL_SUBNET_POOL", None)
        else:
            os.environ["LABCTL_SUBNET_POOL"] = saved


@pytest.fixture(scope="module")
def pool(api) -> str:
    return _free_pool(api)


@pytest.fixture(scope="module")
def server(node_image, api, pool):
    srv = _start(api, pool=pool)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def bob(server) -> str:
    """The bystander: a student who only wants their status."""
    return server.add_user(f"{SESSION_PREFIX}hb")


class Student:
    """An attacking student: a Unix user with a token, over HTTPS (threads at will)."""

    def __init__(self, server: server_harness.Server, name: str):
        self.server = server
        self.user = server.add_user(f"{SESSION_PREFIX}{name}")
        self.token = server.token(self.user)
        self.instance = instances.base_instance(self.user)
        self.made: list[tuple[str, str]] = []

    def client(self, timeout: float = 120) -> Client:
        return Client(self.server.https, token=self.token, verify=str(self.server.cert),
                      timeout=timeout)

    def call(self, work, timeout: float = 120) -> dict:
        """work(client) -> value, or the refusal as {"status", "message"}."""
        with self.client(timeout) as client:
            try:
                return {"value": work(client)}
            except ServerError as exc:
                return {"status": exc.status, "message": str(exc)}

    def at_once(self, count: int, work, timeout: float = 120) -> list[dict]:
        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(lambda _: self.call(work, timeout), range(count)))

    def up(self, lab: str = LAB, instance: str | None = None) -> dict:
        self.made.append((lab, instance or self.instance))
        outcome = self.call(lambda c: c.up(lab, instance))
        assert "value" in outcome, outcome
        return outcome["value"]


@pytest.fixture
def student(server, api):
    made: list[Student] = []

    def make(name: str) -> Student:
        made.append(Student(server, name))
        return made[-1]

    yield make
    for each in made:
        for lab, instance in each.made:
            _down(api, lab, instance)


def _down(api, lab: str, instance: str) -> None:
    """api_down, again while a `down` of the server's own still holds the network."""
    import docker.errors
    for attempt in range(10):
        try:
            api_down(api, lab, instance)
            return
        except docker.errors.APIError:
            if attempt == 9:
                raise
            time.sleep(1)


def status_answers(server: server_harness.Server, user: str) -> float:
    """The bystander's status over the socket, as the kernel says who: its seconds. A
    status that does not answer within 10 s fails the test."""
    def work(client):
        client._http.timeout = httpx.Timeout(10.0)
        began = time.monotonic()
        client.status()
        return time.monotonic() - began

    outcome = server.as_user(user, work)
    assert "value" in outcome, f"{user}'s status: {outcome}"
    return outcome["value"]


def instructor_answers(server: server_harness.Server) -> float:
    began = time.monotonic()
    with Client(f"unix://{server.socket}", timeout=10) as client:
        try:
            client.status()
        except ServerError as exc:
            pytest.fail(f"the instructor's status: {exc}")
    return time.monotonic() - began


def others_are_served(server: server_harness.Server, bob: str, rounds: int = 3) -> None:
    for _ in range(rounds):
        status_answers(server, bob)
        instructor_answers(server)
        time.sleep(1)


def peak_rss(server: server_harness.Server) -> int:
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _in_background(work) -> tuple[threading.Thread, dict]:
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", work()), daemon=True)
    thread.start()
    return thread, box


# -- 1. hangs ----------------------------------------------------------------------------
def test_a_shell_that_never_reads_and_seventy_execs_leave_others_served_and_sigterm_stops_it(
        node_image, api):
    """The shell runs `yes` and never reads, then goes; 70 execs follow into the node;
    later four long execs are under way when SIGTERM comes."""
    server = _start(api)
    attacker = None
    try:
        bob = server.add_user(f"{SESSION_PREFIX}hb1")
        attacker = Student(server, "hm1")
        attacker.up()
        from websockets.sync.client import connect
        context = ssl.create_default_context(cafile=str(server.cert))
        with contextlib.suppress(OSError), connect(
                f"wss://127.0.0.1:{server.port}/v1/labs/{LAB}/nodes/server/shell",
                ssl=context, additional_headers={"authorization": f"Bearer {attacker.token}"},
                max_queue=1, ping_interval=None, compression=None) as ws:
            ws.send(b"yes\n")
            time.sleep(3)  # `yes` fills every buffer on the way: nothing reads it
            ws.socket.close()  # gone, without a word

        execs, box = _in_background(lambda: attacker.at_once(
            70, lambda c: c.exec(LAB, "server", ["echo", "hi"], timeout=5), timeout=60))
        others_are_served(server, bob)
        execs.join(timeout=120)
        assert not execs.is_alive(), "70 execs into the node never ended"
        outcomes = box["result"]
        assert all("value" in o or o["status"] == 429 for o in outcomes), outcomes
        assert any("value" in o for o in outcomes), outcomes
        # The node is not wedged: a command in it ends, and so did `yes` (the session's).
        again = attacker.call(lambda c: c.exec(LAB, "server", ["pgrep", "-x", "yes"]), 10)
        assert again.get("value", {}).get("exit_code") == 1, again

        # Long execs hold the server's threads (the attacker's share): SIGTERM still
        # stops the server, within 10 s.
        long_execs, _ = _in_background(lambda: attacker.at_once(
            4, lambda c: c.exec(LAB, "server", ["sleep", "60"], timeout=90), timeout=90))
        time.sleep(2)
        began = time.monotonic()
        server.proc.terminate()
        try:
            server.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - said below
            pytest.fail("SIGTERM did not stop the server within 10 s")
        assert time.monotonic() - began < 10
        assert not server.socket.exists()
    finally:
        server.stop()
        if attacker is not None:
            for lab, instance in attacker.made:
                _down(api, lab, instance)


def test_a_capture_replaced_by_a_fifo_is_refused_at_once(server, bob, student):
    attacker = student("hm2")
    attacker.up()
    made = attacker.call(lambda c: c.exec(LAB, "server", [
        "sh", "-c", "rm -f /captures/server.pcap && mkfifo /captures/server.pcap"]))
    assert made["value"]["exit_code"] == 0, made
    captures, box = _in_background(lambda: attacker.call(
        lambda c: c.captures(LAB, node="server"), timeout=10))
    others_are_served(server, bob, rounds=1)
    captures.join(timeout=15)
    refused = box.get("result", {})
    assert refused.get("status") == 422, refused
    assert "not a regular file" in refused["message"]
    # The instructor's grade of that lab comes back too (its capture checks fail).
    with Client(f"unix://{server.socket}", timeout=60) as teacher:
        rows = teacher._call("POST", f"/class/{LAB}/check",
                             json={"students": [attacker.user]})["rows"]
    assert rows[0]["student"] == attacker.user and rows[0]["state"] in ("checked", "error")


def test_ninety_long_execs_leave_everyone_else_their_status(server, bob, student):
    attacker = student("hm3")
    attacker.up()
    execs, box = _in_background(lambda: attacker.at_once(
        90, lambda c: c.exec(LAB, "client", ["sleep", "30"], timeout=40), timeout=90))
    time.sleep(2)  # every one sent: the attacker's share of the server is taken
    others_are_served(server, bob)
    execs.join(timeout=120)
    outcomes = box["result"]
    refused = [o for o in outcomes if o.get("status") == 429]
    assert refused and all("--max-requests" in o["message"] for o in refused), outcomes[:3]
    assert "limit 4" in refused[0]["message"]
    assert sum("value" in o for o in outcomes) >= 4


# -- 2. memory ---------------------------------------------------------------------------
def _never_reading(server: server_harness.Server, token: str, path: str) -> ssl.SSLSocket:
    """A client that asks for a stream, reads its head, then reads nothing more."""
    context = ssl.create_default_context(cafile=str(server.cert))
    raw = socket.create_connection(("127.0.0.1", server.port))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}"
                 "\r\n\r\n".encode())
    head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return sock


def test_a_reader_that_never_reads_and_a_2g_output_keep_the_server_small(server, bob,
                                                                        student):
    attacker = student("hm4")
    attacker.up()
    # The node rewrites its pcap again and again: the follower reads every copy anew.
    writer, _ = _in_background(lambda: attacker.call(lambda c: c.exec(LAB, "server", [
        "sh", "-c", "end=$(($(date +%s) + 25)); while [ $(date +%s) -lt $end ]; do "
        "head -c 8M /dev/zero > /captures/server.pcap; done"], timeout=40), timeout=60))
    stalled = _never_reading(server, attacker.token,
                             f"/v1/labs/{LAB}/nodes/server/capture/live")
    try:
        big = attacker.call(lambda c: c.exec(LAB, "client", ["head", "-c", "2G", "/dev/zero"],
                                             timeout=60), timeout=90)
        assert peak_rss(server) < RSS_GOAL, f"server peak RSS {peak_rss(server) >> 20} MiB"
        assert len(big["value"]["stdout"]) == 1024 * 1024, big.get("status")
        assert "cut at 1048576 bytes" in big["value"]["stderr"]
        others_are_served(server, bob, rounds=5)
        writer.join(timeout=60)
        assert peak_rss(server) < RSS_GOAL, f"server peak RSS {peak_rss(server) >> 20} MiB"
    finally:
        stalled.close()


def test_streams_are_limited_per_student(server, student):
    attacker = student("hm5")
    attacker.up()
    path = f"/v1/labs/{LAB}/nodes/server/logs/follow"
    held = [_never_reading(server, attacker.token, path) for _ in range(2)]
    try:
        third = attacker.call(lambda c: next(iter(c.logs_follow(LAB, "server"))), 10)
        assert third.get("status") == 429 and "--max-streams" in third["message"], third
        assert "limit 2" in third["message"]
    finally:
        for sock in held:
            sock.close()
    time.sleep(2)  # the server sees them go, and gives the slots back
    again = attacker.call(lambda c: next(iter(c.logs_follow(LAB, "server"))), 10)
    assert "value" in again, again


def _patient_up(client):
    """A bystander's `up` that waits up to a minute (the default is shorter)."""
    client._http.timeout = httpx.Timeout(60.0)
    return client.up(LAB)


# -- 3. quotas ---------------------------------------------------------------------------
def test_steps_run_outside_the_up_queue(server, bob, student, api):
    """Two tests whose step sleeps fill --concurrent-ups 2; another student's `up` still
    goes through while they sleep."""
    attacker = student("hm6")
    outcome = attacker.call(lambda c: c.upload(SLOW.format(name="sleepy", seconds=25)))
    assert "value" in outcome, outcome
    copy = f"{attacker.instance}-2"
    attacker.made += [("sleepy", attacker.instance), ("sleepy", copy)]
    tests = [_in_background(lambda i=i: attacker.call(lambda c: c.test("sleepy", i)))
             for i in (None, copy)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # both are in their step
        if len(attacker.call(lambda c: c.status(lab="sleepy"))["value"]["labs"]) == 2:
            break
        time.sleep(0.5)
    time.sleep(2)

    try:
        done = server.as_user(bob, _patient_up)
        assert "value" in done, done
        assert all(thread.is_alive() for thread, _ in tests), \
            "the other student's up waited for the tests' steps"
    finally:
        api_down(api, LAB, instances.base_instance(bob))
    for thread, box in tests:
        thread.join(timeout=120)
        report = box["result"]["value"]["labs"][0]
        assert report["steps"][0]["passed"] and report["passed"], report


def test_a_test_s_steps_have_a_time_budget(server, student):
    attacker = student("hm7")
    attacker.call(lambda c: c.upload(SLOW.format(name="sleepier", seconds=90)))
    attacker.made.append(("sleepier", attacker.instance))
    outcome = attacker.call(lambda c: c.test("sleepier"), timeout=150)
    step = outcome["value"]["labs"][0]["steps"][0]
    assert not step["passed"] and "limit 30 s" in step["message"], step
    assert step["seconds"] < 60


def test_ups_and_a_kept_test_pressed_at_once_share_one_lab_quota(server, student, api):
    """A regression guard: every route that starts or keeps a lab counts, at once."""
    attacker = student("hm8")
    labs = [f"quota{i}" for i in range(3)]
    for lab in labs:
        attacker.call(lambda c, lab=lab: c.upload(f"name: {lab}\nnodes:\n  box: {{}}\n"))
        attacker.made.append((lab, attacker.instance))
    presses = [lambda c: c.up(labs[0]), lambda c: c.test(labs[1], keep=True),
               lambda c: c.up(labs[2])]
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(attacker.call, presses))
    refused = [o for o in outcomes if o.get("status") == 429]
    assert len(refused) == 1, outcomes
    assert "limit 2" in refused[0]["message"] and "--labs-per-student" in refused[0]["message"]
    up = {lab for lab in labs if running(api, lab, attacker.instance)}
    assert len(up) == 2, up


def test_subnets_come_from_the_pool_and_labs_have_few_networks(server, bob, student, pool,
                                                               api):
    attacker = student("hm9")
    whole = (f"name: greedy\nnetworks:\n  big: {{subnet: {pool}}}\nnodes:\n"
             "  box: {networks: [big]}\n")
    four = ("name: wide\nnetworks:\n" + "".join(f"  n{i}: {{}}\n" for i in range(4)) +
            "nodes:\n  box: {networks: [n0, n1, n2, n3]}\n")
    attacker.made += [("greedy", attacker.instance), ("wide", attacker.instance)]
    for text in (whole, four):
        refused = attacker.call(lambda c, text=text: c.upload(text))
        assert refused.get("status") == 422, refused
    assert "a /24 or smaller inside the server's pool" in attacker.call(
        lambda c: c.upload(whole))["message"]
    assert "limit 2" in attacker.call(lambda c: c.upload(four))["message"]
    # A /24 of the pool is a student's to fix; one outside it is not.
    inside = str(next(ipaddress.IPv4Network(pool).subnets(new_prefix=24)))
    fixed = "name: fixed\nnetworks:\n  lan: {{subnet: {}}}\nnodes:\n  box: {{networks: [lan]}}\n"
    assert "value" in attacker.call(lambda c: c.upload(fixed.format(inside)))
    assert attacker.call(lambda c: c.upload(fixed.format("10.99.0.0/24")))["status"] == 422

    try:
        done = server.as_user(bob, _patient_up)
        assert "value" in done, done
    finally:
        api_down(api, LAB, instances.base_instance(bob))


def test_the_request_rate_is_limited(server, student):
    attacker = student("hm10")
    outcomes = attacker.at_once(8, lambda c: [_whoami(c) for _ in range(25)])
    answers = [a for o in outcomes for a in o["value"]]
    refused = [a for a in answers if a != "ok"]
    assert len(answers) == 200 and refused, "no request refused at 200 in a burst"
    assert all("--max-rate" in a and "limit 120" in a for a in refused), refused[:2]


def _whoami(client: Client) -> str:
    response = client._http.get("/v1/whoami")
    if response.status_code == 429:
        assert response.headers.get("retry-after", "").isdigit()
        return json.loads(response.text)["detail"]
    assert response.status_code == 200, response.text
    return "ok"
