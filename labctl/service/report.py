"""One report for every command that shows labs: up, status, check, test, verify.

Commands return a Report (data); labctl/output renders it as text, JSON
(docs/json.md) or JUnit. A library caller (a server, say) gets the same data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from labctl.errors import EXIT_FAILED, EXIT_OK
from labctl.lab.results import CheckResult, StepResult
from labctl.runtime.base import NetworkInfo, NodeInfo
from labctl.service.half_made import half_made

if TYPE_CHECKING:  # a status report needs neither (nor the lab model they import)
    from labctl.lab.results import CheckResult, StepResult

SCHEMA = "labctl.service.report/1"


@dataclass
class LabReport:
    lab: str
    instance: str
    path: str | None = None  # the lab file, when the command read one
    nodes: list[NodeInfo] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None  # the lab could not be brought up or checked at all
    broken: str | None = None  # status: what is wrong with a half-made lab
    seconds: dict[str, float] = field(default_factory=dict)  # per phase
    problems: list[str] = field(default_factory=list)  # the lab file's, `file:line: ...`
    started: str = field(default_factory=lambda: now())  # ISO 8601, UTC

    @property
    def invalid(self) -> bool:
        """The lab file failed validation (not an infrastructure failure)."""
        return bool(self.problems)

    @property
    def passed(self) -> bool:
        return (self.error is None and all(s.passed for s in self.steps)
                and all(c.passed for c in self.checks))

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]


@dataclass
class Report:
    command: str  # up, status, check, test, verify
    labs: list[LabReport] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(lab.passed for lab in self.labs)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.passed else EXIT_FAILED


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def by_lab(command: str, nodes: list[NodeInfo], networks: list[NetworkInfo] | None = None
           ) -> Report:
    """A node listing (status) grouped into one LabReport per lab instance; with the
    networks, half-made labs are marked (a lab of networks alone too)."""
    labs: dict[tuple[str, str], LabReport] = {}
    for node in nodes:
        labs.setdefault((node.lab, node.instance),
                        LabReport(node.lab, node.instance)).nodes.append(node)
    if networks is not None:
        for key, problem in sorted(half_made(nodes, networks).items()):
            labs.setdefault(key, LabReport(*key)).broken = problem
    return Report(command, list(labs.values()))


def from_data(data: dict) -> Report:
    """A Report back from its JSON (docs/json.md): what the classroom server sends."""
    labs = []
    for lab in data.get("labs", []):
        labs.append(LabReport(
            lab["lab"], lab["instance"], lab.get("path"),
            nodes=[NodeInfo(**{"container": "", **n}) for n in lab.get("nodes", [])],
            steps=[StepResult(**s) for s in lab.get("steps", [])],
            checks=[CheckResult(**c) for c in lab.get("checks", [])],
            error=lab.get("error"), seconds=dict(lab.get("seconds", {})),
            problems=list(lab.get("problems", [])), broken=lab.get("broken"),
            **({"started": lab["started"]} if lab.get("started") else {})))
    return Report(data["command"], labs)


def to_data(report: Report) -> dict:
    """The report as plain data: what `--json` prints and the server's API sends."""
    return {"schema": SCHEMA, "command": report.command, "passed": report.passed,
            "labs": [_lab_data(lab) for lab in report.labs]}


def _lab_data(lab: LabReport) -> dict:
    data = {f.name: getattr(lab, f.name) for f in fields(lab)}
    data["passed"] = lab.passed
    data["nodes"] = [asdict(n) for n in lab.nodes]
    data["steps"] = [asdict(s) for s in lab.steps]
    data["checks"] = [asdict(c) for c in lab.checks]
    return data
