import pytest

from labctl.errors import InvalidInput
from labctl.lab import loader, scaffold
from tests.conftest import ROOT


def test_new_lab_is_valid_and_commented(tmp_path):
    target = scaffold.new_lab("my-lab", tmp_path)
    text = (target / "lab.yaml").read_text()
    assert loader.load(target).name == "my-lab"
    assert text.count("#") > 10  # every key explained
    assert (target / "README.md").read_text().startswith("# my-lab")
    assert (target / "INSTRUCTOR.md").exists()


def test_new_from_an_existing_lab_renames_it(tmp_path):
    target = scaffold.new_lab("my-echo", tmp_path, str(ROOT / "labs" / "echo-lab"))
    lab = loader.load(target)
    assert lab.name == "my-echo"
    assert lab.checks == loader.load(ROOT / "labs" / "echo-lab").checks


def test_new_refuses_an_existing_directory_and_bad_names(tmp_path):
    scaffold.new_lab("x-lab", tmp_path)
    with pytest.raises(InvalidInput, match="already exists"):
        scaffold.new_lab("x-lab", tmp_path)
    with pytest.raises(InvalidInput, match="invalid lab name"):
        scaffold.new_lab("Bad Name", tmp_path)


def test_new_lab_points_its_schema_at_a_file_that_exists(tmp_path):
    import json
    import re

    from labctl.lab import schema

    target = scaffold.new_lab("my-lab", tmp_path)
    line = re.search(r"\$schema=(\S+)", (target / "lab.yaml").read_text())
    published = (target / line.group(1)).resolve()
    assert json.loads(published.read_text()) == schema.lab_schema()
