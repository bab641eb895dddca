"""`labctl validate` takes labs and folders of labs, and reports every argument it is given."""

import pytest
from clirun import as_process

from tests.conftest import ROOT


@pytest.fixture
def run_labctl(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    return lambda *args: as_process(capsys, *args)


def test_validate_takes_a_folder_of_labs_like_verify(run_labctl):
    result = run_labctl("validate", "labs")
    assert result.returncode == 0, result.stderr
    for lab in sorted((ROOT / "labs").glob("*/lab.yaml")):
        assert f"ok: labs/{lab.parent.name}/lab.yaml ({lab.parent.name})" in result.stderr


def test_validate_reports_every_file_given_even_after_a_bad_one(tmp_path, run_labctl):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: x\x7f\nnodes: {a: {}}\n")
    huge = tmp_path / "huge.yaml"
    huge.write_text("name: x\nnodes: {a: {}}\nsteps: [{on: a, run: ls, exit_code: 0x"
                    + "f" * 5000 + "}]\n")
    result = run_labctl("validate", str(bad), "no-such-lab", str(huge), "echo-lab")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert f"{bad}:1: control character U+007F" in result.stderr
    assert "no lab named 'no-such-lab'" in result.stderr
    assert f"{huge}:3: steps[0].exit_code: number with 5000 digits" in result.stderr
    assert "ok: echo-lab (echo-lab)" in result.stderr
