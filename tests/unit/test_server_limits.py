"""What one student may do (classroom/server/limits.py), in process: each refusal names
its limit, its value and its option; instructors have none. tests/hostile replays the
attacks these answer against a real server."""

from __future__ import annotations

import anyio
import pytest

from labctl.classroom.server import limits as limits_mod
from labctl.classroom.server.access import Refused
from labctl.classroom.server.config import ServerConfig
from labctl.classroom.server.identity import INSTRUCTOR, STUDENT, Identity
from labctl.classroom.server.limits import Limits
from labctl.lab import loader
from labctl.lab.model import Step
from labctl.runtime.base import ExecResult
from labctl.service import steps

ALICE = Identity("alice", STUDENT, "token")
TEACHER = Identity("teacher", INSTRUCTOR, "socket")


def limits(**options) -> Limits:
    return Limits(ServerConfig(socket=None, **options))


def test_the_rate_refuses_past_its_burst_and_says_when_to_come_back():
    rated = limits(max_rate=3)
    for _ in range(3):
        rated.admit(ALICE)
    with pytest.raises(Refused) as refused:
        rated.admit(ALICE)
    assert refused.value.status_code == 429
    assert "limit 3 a minute" in refused.value.detail and "--max-rate" in refused.value.detail
    assert int(refused.value.headers["Retry-After"]) >= 1
    for _ in range(10):
        rated.admit(TEACHER)
    rated.admit(Identity("bob", STUDENT, "token"))  # a bucket each


def test_a_request_past_the_slots_waits_then_is_refused(monkeypatch):
    monkeypatch.setattr(limits_mod, "QUEUE_SECONDS", 0.2)
    slots = limits(max_requests=1)
    seen = []

    async def main():
        async with slots.request(ALICE):
            with pytest.raises(Refused) as refused:
                async with slots.request(ALICE):
                    pass
            seen.append(refused.value)
            async with slots.request(TEACHER):
                seen.append("instructor")
        async with slots.request(ALICE):  # given back
            seen.append("again")

    anyio.run(main)
    assert seen[0].status_code == 429 and "limit 1 at once" in seen[0].detail
    assert "--max-requests" in seen[0].detail
    assert seen[1:] == ["instructor", "again"]


def test_a_waiting_request_gets_the_slot_given_back():
    slots = limits(max_requests=1)
    order = []

    async def main():
        async def first():
            async with slots.request(ALICE) as slot:
                order.append("first")
                await anyio.sleep(0.1)
                slot.release()  # a stream gives its request slot back early
                await anyio.sleep(0.1)
                order.append("first done")

        async with anyio.create_task_group() as group:
            group.start_soon(first)
            await anyio.sleep(0.05)
            async with slots.request(ALICE):
                order.append("second")

    anyio.run(main)
    assert order == ["first", "second", "first done"]


def test_streams_are_counted_and_given_back_once():
    streams = limits(max_streams=1)
    one = streams.stream(ALICE)
    with pytest.raises(Refused, match=r"limit 1 per student: labctl serve --max-streams"):
        streams.stream(ALICE)
    one.release()
    one.release()  # twice counts once
    streams.stream(ALICE)
    with pytest.raises(Refused):
        streams.stream(ALICE)
    streams.stream(TEACHER)


def _lab(text: str):
    return loader.parse(text, "lab.yaml")


def test_labs_have_few_networks_and_fixed_subnets_from_the_pool(monkeypatch):
    monkeypatch.setenv("LABCTL_SUBNET_POOL", "10.213.0.0/16")
    checked = limits(max_networks=2)
    wide = _lab("name: wide\nnetworks: {a: {}, b: {}, c: {}}\n"
                "nodes:\n  x: {networks: [a, b, c]}\n")
    with pytest.raises(Refused, match=r"3 networks.*limit 2: labctl serve --max-networks"):
        checked.check_lab(ALICE, wide)
    checked.check_lab(TEACHER, wide)
    for subnet in ("10.213.0.0/16", "10.213.4.0/23", "10.99.0.0/24"):
        greedy = _lab(f"name: greedy\nnetworks: {{a: {{subnet: {subnet}}}}}\n"
                      "nodes:\n  x: {networks: [a]}\n")
        with pytest.raises(Refused, match=r"a /24 or smaller inside the server's pool "
                                          r"10\.213\.0\.0/16"):
            checked.check_lab(ALICE, greedy)
    for subnet in ("10.213.7.0/24", "10.213.7.128/25"):
        checked.check_lab(ALICE, _lab(f"name: ok\nnetworks: {{a: {{subnet: {subnet}}}}}\n"
                                      "nodes:\n  x: {networks: [a]}\n"))
    many = _lab("name: big\nnodes:\n" + "".join(f"  n{i}: {{}}\n" for i in range(9)))
    with pytest.raises(Refused, match=r"limit 8: labctl serve --nodes-per-lab"):
        checked.check_lab(ALICE, many)


class Clock:
    """A runtime whose commands take the time their `timeout` allows them."""

    def __init__(self):
        self.argv = []

    def run(self, container, argv, user="", *, limit=0, deadline=0):
        self.argv.append(argv)
        return ExecResult(124, b"", b"")


def test_a_step_stops_when_the_budget_is_spent():
    runtime = Clock()
    step = Step(on="box", run="sleep 90", timeout=100)
    budget = steps.Budget(30)
    first = steps.run_step(runtime, 0, step, "c", budget)
    assert runtime.argv[0][:2] == ["timeout", "30"] or float(runtime.argv[0][1]) <= 30
    assert not first.passed and "limit 30 s in all" in first.message
    spent = steps.Budget(30, started=budget.started - 60)
    second = steps.run_step(runtime, 1, step, "c", spent)
    assert not second.passed and "is spent" in second.message and len(runtime.argv) == 1
    alone = steps.run_step(runtime, 0, step, "c")
    assert alone.message == "timed out after 100s" and runtime.argv[-1][1] == "100"


def test_status_lists_once_for_many_and_again_after_a_change():
    from labctl.classroom.server.listing import Listing
    calls = []

    def slow_list():
        import time
        time.sleep(0.05)
        calls.append(1)
        return [len(calls)]

    listing = Listing(slow_list)

    async def main():
        many = []
        async with anyio.create_task_group() as group:
            for _ in range(20):
                async def ask():
                    many.append(await listing.nodes())
                group.start_soon(ask)
        assert many == [[1]] * 20 and len(calls) == 1  # one engine call for all
        assert await listing.nodes() == [1]  # kept
        listing.changed()  # an up or a down through the server
        assert await listing.nodes() == [2]

    anyio.run(main)


def test_one_answer_holds_a_bounded_amount_of_captures(monkeypatch):
    from labctl.errors import FileRefused, FileTooBig
    from labctl.service import captures
    from tests.unit import fakelab
    engine, _, nodes = fakelab.up("name: cap\nnodes:\n  a: {capture: {}}\n  b: {capture: {}}\n")
    for name in ("a", "b"):
        engine.runtime.put_file(nodes[name].container, nodes[name].capture, b"x" * 60)
    monkeypatch.setattr(captures, "READ_LIMIT", 100)
    with pytest.raises(FileTooBig, match=r"hold more than 0 MiB in all.*node b and on"):
        captures.collect(engine, "cap", "t")
    assert [f.node for f in captures.collect(engine, "cap", "t", "a")[0]] == ["a"]
    assert issubclass(FileTooBig, FileRefused)
