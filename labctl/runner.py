"""A lab's test sequence as data: up, steps, checks, instructor tests, down.

`down` always runs unless the caller keeps the lab. Used by `labctl check`,
`labctl test`, `labctl verify` and the pytest plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from labctl import loader, model
from labctl.checks import CheckResult, LabState, run_checks
from labctl.engine import Engine, shielded
from labctl.errors import LabctlError, NotRunning
from labctl.steps import StepResult, run_steps

PHASES = ("up", "steps", "checks", "tests", "down")
Progress = Callable[[str], None]


@dataclass
class LabReport:
    lab: str
    instance: str
    path: str
    steps: list[StepResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None  # the lab could not be brought up or checked at all
    seconds: dict[str, float] = field(default_factory=dict)  # per phase

    @property
    def passed(self) -> bool:
        return (self.error is None and all(s.passed for s in self.steps)
                and all(c.passed for c in self.checks))

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]


def running_nodes(engine: Engine, lab: model.Lab, instance: str,
                  infos: list | None = None) -> dict:
    """The lab's nodes by name, all running (`infos`: a listing already in hand)."""
    if infos is None:
        infos = engine.status(lab.name, instance)
    nodes = {n.node: n for n in infos}
    missing = [name for name in lab.nodes if name not in nodes
               or nodes[name].status != "running"]
    if missing:
        raise NotRunning(f"{lab.name} is not fully running (instance '{instance}'; missing: "
                         f"{', '.join(missing)}): run `labctl up {lab.name}` first")
    return nodes


def check_running(engine: Engine, lab: model.Lab, instance: str) -> list[CheckResult]:
    state = LabState(engine.runtime, running_nodes(engine, lab, instance))
    return run_checks(state, lab.checks)


def test_lab(engine: Engine, lab_path: Path, instance: str, keep: bool = False,
             progress: Progress = lambda _m: None) -> LabReport:
    """Up, steps, checks, the lab's own pytest files, then down (unless keep)."""
    lab = loader.load(lab_path)
    report = LabReport(lab.name, instance, str(lab_path))
    clock = time.perf_counter()

    def phase_done(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.seconds[name] = now - clock
        clock = now
        progress(f"{lab.name}: {name} done")

    try:
        infos = engine.up(lab, instance)
        phase_done("up")
        nodes = running_nodes(engine, lab, instance, infos)
        report.steps = run_steps(engine.runtime, lab.steps, nodes)
        phase_done("steps")
        report.checks = run_checks(LabState(engine.runtime, nodes), lab.checks)
        phase_done("checks")
        tests_dir = lab_path.parent / "tests" if lab_path.is_file() else lab_path / "tests"
        if list(tests_dir.glob("test_*.py")):
            report.checks.append(run_instructor_tests(tests_dir, instance, len(report.checks)))
            phase_done("tests")
    except LabctlError as exc:
        report.error = str(exc)
    finally:
        if not keep:
            with shielded():  # a second Ctrl-C must not leave the lab behind
                engine.down(lab.name, instance)
            phase_done("down")
    return report


def run_instructor_tests(tests_dir: Path, instance: str, index: int) -> CheckResult:
    """The lab's own testinfra tests, against the lab that is already up."""
    began = time.perf_counter()
    env = {**os.environ, "LABCTL_RUNNING_INSTANCE": instance}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tests_dir)], capture_output=True, text=True, env=env,
                          timeout=600)
    summary = (proc.stdout.strip().splitlines() or ["no output"])[-1]
    result = CheckResult(index, "tests", f"instructor tests in {tests_dir.parent.name}/tests",
                         proc.returncode == 0, seconds=time.perf_counter() - began)
    if not result.passed:
        result.message = f"pytest {tests_dir}: {summary}"
        result.seen = proc.stdout[-1500:]
    return result


def verify(engine: Engine, lab_paths: list[Path], instance_prefix: str, workers: int,
           progress: Progress = lambda _m: None) -> list[LabReport]:
    """`test` every lab, several at once; each in its own instance, so nothing collides."""
    def one(item: tuple[int, Path]) -> LabReport:
        index, path = item
        try:
            return test_lab(engine, path, f"{instance_prefix}-{index}", progress=progress)
        except LabctlError as exc:
            return LabReport(path.parent.name if path.is_file() else path.name,
                             f"{instance_prefix}-{index}", str(path), error=str(exc))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, enumerate(lab_paths)))
