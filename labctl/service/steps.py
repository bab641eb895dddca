"""Run a lab's steps: commands on nodes, in order, with their expectations.

A step's output (stdout then stderr) is kept, bounded, for reports; a
background step's output goes to the node's log (`labctl logs LAB NODE`),
each line prefixed `[step N]`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from labctl.lab import facts, model
from labctl.lab.results import StepResult
from labctl.runtime import NodeInfo, Runtime

OUTPUT_LIMIT = 8000


@dataclass
class Budget:
    """Seconds that steps may take in all, from the moment it is made (a classroom
    server gives a student's steps one: labctl serve --max-step-seconds)."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def spent(self) -> str:
        return (f"the time budget for steps is spent (limit {self.seconds:g} s in all on "
                "this server)")
# The node's log is PID 1's output (the agent's): a background step writes there.
_TO_NODE_LOG = 'sh -c "$1" 2>&1 | sed -u "s/^/[step {n}] /" >/proc/1/fd/1'


def run_steps(runtime: Runtime, steps: list[model.Step], nodes: dict[str, NodeInfo],
              budget: Budget | None = None) -> list[StepResult]:
    """Run steps in order; stop at the first that fails its expectations (or once the
    budget, if any, is spent: that step fails saying so)."""
    results = []
    for index, step in enumerate(steps):
        result = run_step(runtime, index, facts.fill(step, nodes), nodes[step.on].container,
                          budget)
        results.append(result)
        if not result.passed:
            break
        if step.wait:
            time.sleep(step.wait if budget is None else max(0.0, min(step.wait,
                                                                     budget.left())))
    return results


def run_step(runtime: Runtime, index: int, step: model.Step, container: str,
             budget: Budget | None = None) -> StepResult:
    began = time.perf_counter()
    result = StepResult(index, step.on, step.run, True, name=step.name)
    timeout = step.timeout if budget is None else min(step.timeout, budget.left())
    if timeout <= 0:
        result.passed = False
        result.message = budget.spent()
        return result
    if step.background:
        runtime.start_background(container, ["/bin/sh", "-c",
                                             _TO_NODE_LOG.format(n=index + 1), "sh", step.run])
        result.seconds = time.perf_counter() - began
        return result
    code, out, err = runtime.run(container, ["timeout", f"{timeout:g}", "/bin/sh", "-c",
                                             step.run], deadline=timeout + 15)
    result.exit_code = code
    text = (out + err).decode("utf-8", "replace")
    result.output = text[-OUTPUT_LIMIT:]
    result.seconds = time.perf_counter() - began
    if code == 124 and timeout < step.timeout:
        result.passed = False
        result.message = f"stopped after {timeout:g}s: {budget.spent()}"
    elif code == 124:
        result.passed = False
        result.message = f"timed out after {step.timeout:g}s"
    elif step.exit_code is not None and code != step.exit_code:
        result.passed = False
        result.message = f"exited with {code}, expected {step.exit_code}"
    elif step.stdout_contains is not None and step.stdout_contains not in text:
        result.passed = False
        result.message = f"output does not contain {step.stdout_contains!r}"
    elif step.stdout_matches is not None and not re.search(step.stdout_matches,
                                                           text, re.M):
        result.passed = False
        result.message = f"output does not match /{step.stdout_matches}/"
    return result
