"""A class's grades for one lab: student x check, as data (its formats: grade_formats.py).

Pure: built from each student's check results (the API's CheckReport dicts) or the
reason there are none (no lab running, or the check itself failed), so the server,
the CLI and the web pages share one shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime

from labctl.lab.results import CheckResult

CHECKED, NO_LAB, BROKEN = "checked", "no lab", "error"
NOT_CHECKED = "not checked"  # running, but no result yet (the live grid)


@dataclass
class Row:
    student: str
    instance: str
    state: str  # CHECKED, NO_LAB, BROKEN or NOT_CHECKED
    results: list[CheckResult] = field(default_factory=list)
    note: str = ""  # why there are no results

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def score(self) -> str:
        return f"{self.passed}/{len(self.results)}" if self.state == CHECKED else "-"

    @property
    def complete(self) -> bool:
        return self.state == CHECKED and bool(self.results) and self.passed == len(self.results)

    def points(self, maximum: int) -> int | None:
        """Numeric points for a grade book: checks passed; 0 with no lab running (nothing
        to grade is nothing earned); None when the lab could not be checked (an error, or
        not checked yet), so an import leaves that student's grade as it was."""
        if self.state == CHECKED:
            return self.passed
        return 0 if self.state == NO_LAB else None

    def result(self, index: int) -> CheckResult | None:
        return next((r for r in self.results if r.index == index), None)


@dataclass
class Grades:
    lab: str
    titles: list[str]  # the lab's checks, in order
    rows: list[Row]
    checked_at: str = ""  # when the checks ran (ISO 8601, UTC)

    @property
    def max_points(self) -> int:
        return len(self.titles)

    def summary(self) -> str:
        done = sum(r.complete for r in self.rows)
        some = sum(r.state == CHECKED and not r.complete for r in self.rows)
        none = sum(r.state == NO_LAB for r in self.rows)
        broken = sum(r.state == BROKEN for r in self.rows)
        waiting = sum(r.state == NOT_CHECKED for r in self.rows)
        parts = [f"{len(self.rows)} students: {done} passed every check",
                 f"{some} failed some"]
        if none:
            parts.append(f"{none} had no lab running")
        if broken:
            parts.append(f"{broken} could not be checked")
        if waiting:
            parts.append(f"{waiting} not checked yet")
        return ", ".join(parts)

    def to_data(self) -> dict:
        return {"lab": self.lab, "titles": self.titles, "summary": self.summary(),
                "checked_at": self.checked_at, "max_points": self.max_points,
                "rows": [asdict(r) | {"score": r.score, "complete": r.complete,
                                      "points": r.points(self.max_points)}
                         for r in self.rows]}

    @classmethod
    def from_data(cls, data: dict) -> Grades:
        rows = [Row(r["student"], r["instance"], r["state"],
                    [CheckResult(**res) for res in r["results"]], r.get("note", ""))
                for r in data["rows"]]
        return cls(data["lab"], list(data["titles"]), rows, data.get("checked_at", ""))


def checked(student: str, instance: str, checks: list[dict]) -> Row:
    """A row from a check report's results."""
    known = {f.name for f in fields(CheckResult)}
    return Row(student, instance, CHECKED,
               [CheckResult(**{"kind": "", **{k: v for k, v in c.items() if k in known}})
                for c in checks])


def no_lab(student: str, instance: str, lab: str) -> Row:
    return Row(student, instance, NO_LAB, note=f"{lab} is not running")


def broken(student: str, instance: str, reason: str) -> Row:
    return Row(student, instance, BROKEN, note=reason)


def grades(lab: str, titles: list[str], rows: list[Row], checked_at: str = "") -> Grades:
    when = checked_at or datetime.now(UTC).isoformat(timespec="seconds")
    return Grades(lab, titles, sorted(rows, key=lambda r: r.student), when)
