"""Run a lab's steps: commands on nodes, in order, with their expectations."""

from __future__ import annotations

import time
from dataclasses import dataclass

from labctl import model
from labctl.runtime import DockerRuntime, NodeInfo


@dataclass
class StepResult:
    index: int
    node: str
    command: str
    passed: bool
    exit_code: int | None = None
    output: str = ""
    message: str = ""
    seconds: float = 0.0


def run_steps(runtime: DockerRuntime, steps: list[model.Step], nodes: dict[str, NodeInfo]
              ) -> list[StepResult]:
    """Run steps in order; stop at the first that fails its expectations."""
    results = []
    for index, step in enumerate(steps):
        result = run_step(runtime, index, step, nodes[step.on].container)
        results.append(result)
        if not result.passed:
            break
        if step.wait:
            time.sleep(step.wait)
    return results


def run_step(runtime: DockerRuntime, index: int, step: model.Step, container: str
             ) -> StepResult:
    began = time.perf_counter()
    result = StepResult(index, step.on, step.run, True)
    if step.background:
        runtime.start_background(container, ["/bin/sh", "-c", step.run])
        result.seconds = time.perf_counter() - began
        return result
    code, out, err = runtime.run(container, ["timeout", str(step.timeout), "/bin/sh", "-c",
                                             step.run])
    result.exit_code = code
    result.output = (out + err).decode("utf-8", "replace")
    result.seconds = time.perf_counter() - began
    if code == 124:
        result.passed = False
        result.message = f"timed out after {step.timeout:g}s"
    elif step.exit_code is not None and code != step.exit_code:
        result.passed = False
        result.message = f"exited with {code}, expected {step.exit_code}"
    elif step.stdout_contains is not None and step.stdout_contains not in result.output:
        result.passed = False
        result.message = f"output does not contain {step.stdout_contains!r}"
    return result
