"""Every malformed lab in tests/cases/invalid is refused with its golden message."""

from pathlib import Path

import pytest

from labctl.errors import LabInvalid
from labctl.loader import parse

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


def test_cli_validate_reports_every_case_without_a_traceback():
    from tests.conftest import run_labctl

    result = run_labctl("validate", *[str(c / "lab.yaml") for c in CASES])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    for case in CASES:
        for line in (case / "expected.txt").read_text().splitlines():
            assert line.replace("lab.yaml:", f"{case / 'lab.yaml'}:", 1) in result.stderr


def test_mutated_labs_never_crash_the_loader():
    """Truncations and byte flips of real labs: refused or accepted, never a crash."""
    import random

    from tests.conftest import ROOT

    rng = random.Random(1234)
    sources = [p.read_bytes() for p in sorted((ROOT / "labs").glob("*/lab.yaml"))]
    for _ in range(600):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.3:
                del data[pos:]
            elif choice < 0.7:
                data[pos] = rng.choice(b" \t:-[]{}&*!|>'\"#%@`\n0aZ")
            else:
                data.insert(pos, rng.choice(b"\t:[{&*!\n"))
        text = data.decode("utf-8", "replace")
        try:
            parse(text, "lab.yaml")
        except LabInvalid as exc:
            assert all(str(p).startswith("lab.yaml:") for p in exc.problems)
