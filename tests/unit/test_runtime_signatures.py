"""Every runtime takes every argument the Runtime protocol names (runtime/base.py): a
caller that passes `deadline=` or `limit=` reaches each engine alike. (The swarm's
`run` once missed `deadline` when the protocol grew it: `labctl test` on a swarm died
with a TypeError.)"""

from __future__ import annotations

import inspect

import pytest

from labctl.runtime import base
from labctl.runtime.docker import DockerRuntime
from labctl.runtime.fake import FakeRuntime
from labctl.runtime.swarm import SwarmRuntime

METHODS = [name for name, _ in inspect.getmembers(base.Runtime, inspect.isfunction)
           if not name.startswith("_")]


@pytest.mark.parametrize("runtime", [DockerRuntime, SwarmRuntime, FakeRuntime],
                         ids=lambda r: r.__name__)
@pytest.mark.parametrize("method", METHODS)
def test_each_runtime_takes_the_protocols_arguments(runtime, method):
    wanted = inspect.signature(getattr(base.Runtime, method)).parameters
    found = inspect.signature(getattr(runtime, method)).parameters
    for name, param in wanted.items():
        assert name in found, f"{runtime.__name__}.{method} has no parameter {name}"
        assert found[name].kind == param.kind, f"{runtime.__name__}.{method}({name})"
    extra = [p for n, p in found.items() if n not in wanted]
    assert all(p.default is not inspect.Parameter.empty for p in extra), extra
