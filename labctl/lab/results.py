"""What running a lab's checks and steps comes to: a CheckResult per check, a StepResult
per step. Reports, the API, the web pages and grade books carry them as they are; plain
data, so reading a report back (the classroom's client) needs nothing else of labctl."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CheckResult:
    index: int
    kind: str
    title: str
    passed: bool
    message: str = ""  # why it failed, in teaching terms
    expected: str = ""
    seen: str = ""
    seconds: float = 0.0


@dataclass
class StepResult:
    index: int
    node: str
    command: str
    passed: bool
    exit_code: int | None = None
    output: str = ""  # stdout then stderr, the last OUTPUT_LIMIT characters
    message: str = ""
    seconds: float = 0.0
    name: str | None = None  # the author's title for the step
