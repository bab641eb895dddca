"""The `up` queue: bounded, in order, and one `up` per lab and instance at a time."""

import asyncio
import threading
import time

from labctl.classroom.server.ups import UpQueue


def test_the_same_lab_and_instance_share_one_up_and_others_wait_their_turn():
    calls: list[str] = []
    running = 0
    most = 0
    lock = threading.Lock()

    def work(name):
        def run():
            nonlocal running, most
            with lock:
                calls.append(name)
                running += 1
                most = max(most, running)
            time.sleep(0.05)
            with lock:
                running -= 1
            return [{"node": name}]
        return run

    async def scenario():
        queue = UpQueue(concurrent=2)
        same = [queue.up(("lab", "alice"), work("alice")) for _ in range(3)]
        others = [queue.up(("lab", f"u{i}"), work(f"u{i}")) for i in range(5)]
        return await asyncio.gather(*same, *others)

    results = asyncio.run(scenario())
    assert calls.count("alice") == 1  # three requests, one up
    assert results[:3] == [[{"node": "alice"}]] * 3
    assert len(calls) == 6 and most == 2


def test_a_caller_that_goes_away_does_not_cut_the_up_in_half():
    finished = threading.Event()

    def slow():
        time.sleep(0.1)
        finished.set()
        return []

    async def scenario():
        queue = UpQueue(concurrent=1)
        waiter = asyncio.ensure_future(queue.up(("lab", "x"), slow))
        await asyncio.sleep(0.02)
        waiter.cancel()  # the client disconnected
        await queue.settle(("lab", "x"))  # what `down` does first

    asyncio.run(scenario())
    assert finished.is_set()


def test_drain_waits_for_every_up_under_way():
    done = []

    def slow():
        time.sleep(0.1)
        done.append(1)
        return []

    async def scenario():
        queue = UpQueue(concurrent=1)
        waiters = [asyncio.ensure_future(queue.up(("lab", f"i{i}"), slow)) for i in range(2)]
        await asyncio.sleep(0.01)
        for waiter in waiters:
            waiter.cancel()
        await queue.drain()

    asyncio.run(scenario())
    assert done == [1, 1]


def test_a_queued_up_knows_its_place():
    release = threading.Event()

    def held():
        release.wait(5)
        return []

    async def scenario():
        queue = UpQueue(concurrent=1)
        ups = [asyncio.ensure_future(queue.up(("lab", f"i{i}"), held)) for i in range(3)]
        await asyncio.sleep(0.05)
        places = [queue.place(("lab", f"i{i}")) for i in range(3)]
        seen = (places, queue.waiting, queue.place(("lab", "other")))
        release.set()
        await asyncio.gather(*ups)
        return seen, queue.place(("lab", "i0"))

    (places, waiting, other), after = asyncio.run(scenario())
    assert places == [0, 1, 2] and waiting == 2 and other is None and after is None
