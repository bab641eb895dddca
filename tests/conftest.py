"""Shared fixtures. Integration tests (marked `docker`) use the real engine.

Without an engine they skip on a laptop, but fail in CI (CI=true). At the
end of the session any container or network still carrying our labels for
a test instance, and any Unix user made by this session, is removed and
reported as a failure.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The invalid-lab corpus is read by tests/unit/test_invalid_corpus.py, not collected as labs.
collect_ignore_glob = ["cases/*"]
TEST_INSTANCE_PREFIX = "t"
# This session's own instances: several test runs may share one engine at once,
# and each cleans up (and reports) only what it made.
SESSION_PREFIX = f"{TEST_INSTANCE_PREFIX}{os.getpid() % 100000}-"
_counter = itertools.count()


def _engine_or_none():
    try:
        import docker

        # Clean-ups go through this client: a node a test filled (2 GB of output, a tmpfs
        # full) can take Docker more than 10 s to remove on a loaded host.
        client = docker.from_env(timeout=120)
        client.ping()
        return client.api
    except Exception:  # noqa: BLE001 - any failure means "no engine here"
        return None


_API = _engine_or_none()


def pytest_sessionstart(session):
    """labctl's bytecode written once: many tests run `python -m labctl...` as a user
    would, and with PYTHONDONTWRITEBYTECODE set (or a fresh clone) each of them would
    compile labctl from source again. Written explicitly, whatever that variable says."""
    import compileall
    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "labctl"), quiet=1)


def pytest_collection_modifyitems(config, items):
    # Modules that start outside work early (pytest_collection_finish) run last, so that
    # work overlaps every other module's tests.
    items.sort(key=lambda item: hasattr(getattr(item, "module", None), "start_early"))
    if _API is not None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return  # in CI the `api` fixture fails these tests instead
    for item in items:
        if "docker" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="no Docker engine answers here"))


def pytest_collection_finish(session):
    """A test module may start slow outside work (an oracle tool over its inputs) once the
    session knows it runs: `start_early()`; its tests, run last, wait for what it gave."""
    modules = {getattr(item, "module", None) for item in session.items}
    for module in modules:
        if hasattr(module, "start_early"):
            module.start_early()


@pytest.fixture(scope="session")
def api():
    if _API is None:
        pytest.fail("CI=true but no Docker engine answers: integration tests cannot run")
    return _API


@pytest.fixture(scope="session")
def node_image(api):
    """Build (or reuse) the node image once per test session."""
    from labctl.runtime.docker import connect as docker_runtime

    return docker_runtime().ensure_image()


@pytest.fixture
def instance():
    """A fresh instance name, so tests never collide with a user's labs or each other."""
    return f"{SESSION_PREFIX}{next(_counter)}"


@pytest.fixture
def engine(api, node_image):
    from labctl.runtime.docker import connect as docker_runtime
    from labctl.service.engine import Engine

    return Engine(docker_runtime())


@pytest.fixture
def lab_up(engine, instance):
    """Bring labs up for a test, and always down afterwards."""
    started = []

    def up(lab):
        from labctl.lab import loader

        model = loader.load(lab) if not hasattr(lab, "nodes") else lab
        started.append(model.name)
        return engine.up(model, instance)

    yield up
    for name in started:
        engine.down(name, instance)


def run_labctl(*args, input_text=None, env=None, timeout=120):
    """Run the real command line, as a user would."""
    return subprocess.run([sys.executable, "-m", "labctl.cli", *args], capture_output=True,
                          text=True, input=input_text, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def pytest_sessionfinish(session, exitstatus):
    import pwd
    users = [u.pw_name for u in pwd.getpwall() if u.pw_name.startswith(SESSION_PREFIX)]
    if users:  # the server tests' users: each is removed when its server stops
        from tests.integration.server_harness import remove_user
        for user in users:
            remove_user(user)
        sys.stderr.write(f"\nLEAK: tests left Unix users behind: {users}\n")
        session.exitstatus = 1
    if _API is None:
        return
    from labctl.lab import naming

    leaked = []
    for c in _API.containers(all=True, filters={"label": naming.LAB}):
        if (c.get("Labels") or {}).get(naming.INSTANCE, "").startswith(SESSION_PREFIX):
            leaked.append(c["Names"][0])
            _API.remove_container(c["Id"], force=True)
    for n in _API.networks(filters={"label": naming.LAB}):
        if (n.get("Labels") or {}).get(naming.INSTANCE, "").startswith(SESSION_PREFIX):
            leaked.append(n["Name"])
            _API.remove_network(n["Id"])
    if leaked:
        sys.stderr.write(f"\nLEAK: tests left labelled resources behind: {leaked}\n")
        session.exitstatus = 1


@pytest.fixture(scope="session")
def swarm_cluster(api):
    """A test swarm of two engines (a manager and a worker: the smallest that has more
    than one host) for the session; removed afterwards, with whatever it ran."""
    from labctl.testing import swarm
    name = f"labctl-swarm-{SESSION_PREFIX.rstrip('-')}"
    cluster = swarm.up(2, name, progress=lambda _: None)
    try:
        yield cluster
    finally:
        leaked = []  # what tests left on the swarm, reported as on the local engine
        for engine in cluster.engines:
            leaked += [c["Names"][0] for c in cluster.client(engine).containers(
                all=True, filters={"label": "labctl.lab"})]
        leaked += [n["Name"] for n in cluster.client().networks(
            filters={"label": "labctl.lab"})]
        swarm.down(name, progress=lambda _: None)
        assert not leaked, f"LEAK: tests left on the test swarm: {leaked}"
