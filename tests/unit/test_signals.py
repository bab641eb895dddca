"""shielded(): a Ctrl-C during clean-up waits for the clean-up, whatever threads run."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from labctl.interrupts import shielded


@pytest.fixture
def another_thread():
    """A second thread, as the engine always has: a signal the main thread blocks goes
    to it, and Python then raises KeyboardInterrupt in the main thread anyway. Ctrl-C
    does what it does by default in Python meanwhile."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    yield
    stop.set()
    thread.join()
    signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_inside_comes_out_after_the_block(another_thread):
    done = []
    with pytest.raises(KeyboardInterrupt), shielded():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
        done.append("clean-up finished")
    assert done == ["clean-up finished"]


def test_the_handlers_come_back(another_thread):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with shielded():
        pass
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_sigterm_goes_to_its_own_handler_after_the_block(another_thread):
    heard = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: heard.append(signum))
    try:
        with shielded():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
            assert heard == []
        assert heard == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
