"""A lab's test sequence as data: up, steps, checks, instructor tests, down.

`down` always runs unless the caller keeps the lab. Used by `labctl check`,
`labctl test`, `labctl verify` and the pytest plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from labctl.errors import LabctlError, LabInvalid, NodeStopped
from labctl.lab import loader, model
from labctl.lab.results import CheckResult
from labctl.runtime.base import Progress, quiet
from labctl.service.engine import Engine
from labctl.service.lab_run import lab_session
from labctl.service.report import LabReport
from labctl.service.steps import Budget


def test_lab(engine: Engine, lab: model.Lab, instance: str, keep: bool = False,
             progress: Progress = quiet, lab_path: Path | None = None, *,
             up_done: bool = False, step_seconds: float | None = None) -> LabReport:
    """Up, steps, checks, the lab's own pytest files (beside `lab_path`, when given), then
    down (unless keep). `up_done`: the caller brought the lab up (lab_session);
    `step_seconds`: the steps' time budget in all."""
    report = LabReport(lab.name, instance, str(lab_path) if lab_path else lab.name)
    clock = time.perf_counter()

    def phase_done(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.seconds[name] = now - clock
        clock = now
        progress(f"{lab.name}: {name} done")

    try:
        with lab_session(engine, lab, instance, keep=keep, up_done=up_done) as session:
            report.nodes = list(session.nodes.values())
            phase_done("up")
            report.steps = session.steps(None if step_seconds is None else
                                         Budget(step_seconds))
            phase_done("steps")
            report.checks = session.checks()
            phase_done("checks")
            tests_dir = _tests_dir(lab_path)
            if tests_dir is not None:
                report.checks.append(run_instructor_tests(tests_dir, instance,
                                                          len(report.checks)))
                phase_done("tests")
    except LabctlError as exc:
        if isinstance(exc, NodeStopped):
            exc.during = exc.during or "test"
        report.error = str(exc)
    if not keep:
        phase_done("down")
    return report


def _tests_dir(lab_path: Path | None) -> Path | None:
    """The lab's own pytest files: a tests/ folder beside its lab.yaml."""
    if lab_path is None:
        return None
    tests_dir = lab_path.parent / "tests" if lab_path.is_file() else lab_path / "tests"
    return tests_dir if list(tests_dir.glob("test_*.py")) else None


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
           progress: Progress = quiet) -> list[LabReport]:
    """`test` every lab, several at once; each in its own instance, so nothing collides."""
    def one(item: tuple[int, Path]) -> LabReport:
        index, path = item
        name = path.parent.name if path.is_file() else path.name
        try:
            return test_lab(engine, loader.load(path), f"{instance_prefix}-{index}",
                            progress=progress, lab_path=path)
        except LabInvalid as exc:
            problems = [str(p) for p in exc.problems]
            return LabReport(name, f"{instance_prefix}-{index}", str(path),
                             error=f"the lab file is invalid ({len(problems)} problems)",
                             problems=problems)
        except LabctlError as exc:
            return LabReport(name, f"{instance_prefix}-{index}", str(path), error=str(exc))

    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        return list(pool.map(one, enumerate(lab_paths)))
    finally:
        # Interrupted: do not wait for the labs still running; the caller removes them,
        # which also ends whatever the workers wait on.
        pool.shutdown(wait=False, cancel_futures=True)
