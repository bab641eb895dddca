"""What `labctl up LAB` and `labctl down LAB` import: the two commands a class runs most
stay clear of the heavy libraries (the lab model's pydantic, Typer, YAML, the docker
SDK, the server's stack). Measured as the modules a real run imports (python -X
importtime), not as a time: the time itself is bench/bench_peers.py's business."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"pydantic", "pydantic_core", "typer", "yaml", "docker", "requests", "dpkt",
         "testinfra", "fastapi", "starlette", "uvicorn", "httpx", "jinja2", "websockets"}


def imported(argv: list[str], env: dict[str, str]) -> set[str]:
    """Top-level packages a run of `labctl ARGV` imported (it may fail: no engine here)."""
    code = (f"import sys; sys.argv = ['labctl', *{argv!r}]; "
            "from labctl.cli.entry import main; main()")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, **env},
                          timeout=60)
    names = [line.split("|")[-1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "|" in line]
    assert names, proc.stderr[-2000:]
    return {name.split(".")[0] for name in names[1:]}  # [0] is the header line


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    # A fresh cache (up validates once, then starts from the blueprint), no server.
    return {"XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path),
            "LABCTL_SERVER": "local", "LABCTL_INSTANCE": "importbudget"}


def test_down_imports_none_of_the_heavy_libraries(env):
    # nor the terminal rendering library: down prints one plain line
    assert imported(["down", "no-such-lab-here"], env) & (HEAVY | {"rich"}) == set()


def test_a_second_up_of_an_unchanged_lab_imports_none_of_them(env, tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text((ROOT / "labs/handshake-lab/lab.yaml").read_text())
    subprocess.run([sys.executable, "-c", f"from labctl.lab import blueprint; "
                    f"blueprint.load({str(lab)!r})"], cwd=ROOT, check=True, timeout=60,
                   env={**os.environ, **env})  # the first up validates and keeps it
    # `up` would start the lab: ask for an unknown instance option value instead, which
    # fails after the lab was read (the blueprint), before any engine call.
    found = imported(["up", str(lab), "-i", "Not-A-Valid-Instance"], env)
    assert found & HEAVY == set()
