"""Every malformed lab in tests/cases/invalid is refused with its golden message."""

from pathlib import Path

import pytest

from labctl.errors import LabInvalid
from labctl.lab.loader import parse

CASES = sorted(p for p in (Path(__file__).parent.parent / "cases" / "invalid").iterdir()
               if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_lab_is_refused_with_located_message(case):
    expected = (case / "expected.txt").read_text().splitlines()
    with pytest.raises(LabInvalid) as info:
        parse((case / "lab.yaml").read_text(), "lab.yaml")
    assert [str(p) for p in info.value.problems] == expected
    for line in expected:
        assert line.startswith("lab.yaml:"), "every message names file:line"


def test_corpus_is_not_empty():
    assert len(CASES) >= 20


def test_corpus_has_at_least_sixty_cases():
    assert len(CASES) >= 60


def test_cli_validate_reports_every_case_without_a_traceback(capsys):
    from clirun import as_process

    result = as_process(capsys, "validate", *[str(c / "lab.yaml") for c in CASES])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    for case in CASES:
        for line in (case / "expected.txt").read_text().splitlines():
            assert line.replace("lab.yaml:", f"{case / 'lab.yaml'}:", 1) in result.stderr

# Mutations of these cases and of the shipped labs: tests/unit/test_fuzz_loader.py.
