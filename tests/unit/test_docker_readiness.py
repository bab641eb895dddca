"""The Docker runtime reads the agent's readiness from the node's log, whatever the
chunking and whatever a service printed before it (the SDK's log stream stubbed)."""

import pytest

from labctl.errors import NodeFailed
from labctl.runtime.docker import DockerRuntime


class LogsOnly:
    def __init__(self, chunks):
        self.chunks = chunks

    def logs(self, *_args, **_kwargs):
        return iter(self.chunks)


def wait(chunks):
    DockerRuntime(LogsOnly(chunks)).wait_ready("c", "server")


def test_ready_after_a_service_line_without_newline_split_across_chunks():
    wait([b"labctl-agent: starting\nServing HTTP on 0.0.0.0 port 80labctl-agent: re",
          b"ady\n"])


def test_ready_as_the_last_line_without_newline():
    wait([b"labctl-agent: ready"])


def test_failure_carries_the_reason_and_the_last_lines():
    with pytest.raises(NodeFailed, match="failed to start: http exited with code 1") as failed:
        wait([b"PermissionError: [Errno 13]\n", b"labctl-agent: failed: http exited with code 1\n"])
    assert "PermissionError" in str(failed.value)


def test_a_stream_that_ends_before_ready_is_a_failure():
    with pytest.raises(NodeFailed, match="stopped before it was ready:\nbooting"):
        wait([b"booting\n"])
