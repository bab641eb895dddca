"""The blueprint: what `up` needs of a lab as plain data, and its per-user cache."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labctl.errors import LabInvalid
from labctl.lab import blueprint, loader
from labctl.lab.plan import plan_lab

ROOT = Path(__file__).resolve().parents[2]
LABS = sorted(ROOT.glob("labs/*/lab.yaml"))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "labctl" / "blueprints"


def _subnets(lab) -> dict[str, str]:
    return {name: net.subnet or f"10.9.{i}.0/24" for i, (name, net) in
            enumerate(lab.networks.items())}


@pytest.mark.parametrize("path", LABS, ids=lambda p: p.parent.name)
def test_a_stored_blueprint_plans_exactly_what_the_model_plans(path):
    lab = loader.load(path)
    stored = blueprint.Blueprint.from_json(blueprint.of(lab).to_json())
    assert plan_lab(stored, "i", _subnets(lab), "img") == plan_lab(lab, "i", _subnets(lab), "img")


def test_an_unchanged_lab_is_read_from_the_cache_without_the_loader(cache, tmp_path,
                                                                   monkeypatch):
    lab = tmp_path / "lab.yaml"
    lab.write_text((ROOT / "labs/handshake-lab/lab.yaml").read_text())
    first = blueprint.load(lab)
    [entry] = cache.iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700
    monkeypatch.setattr(loader, "load", lambda *_: pytest.fail("the loader ran"))
    assert blueprint.load(lab) == first


def test_a_changed_lab_is_validated_again(cache, tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: one\nnodes:\n  a: {}\n")
    assert blueprint.load(lab).name == "one"
    lab.write_text("name: two\nnodes:\n  a: {}\n")
    assert blueprint.load(lab).name == "two"
    lab.write_text("name: two\nnodes:\n  a: {services: [nope]}\n")
    with pytest.raises(LabInvalid, match="lab.yaml:3"):
        blueprint.load(lab)
    assert len(list(cache.iterdir())) == 2  # nothing kept of the invalid one


def test_a_damaged_entry_is_a_miss(cache, tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: one\nnodes:\n  a: {}\n")
    blueprint.load(lab)
    [entry] = cache.iterdir()
    entry.write_text('{"format": 1, "name": ')
    assert blueprint.load(lab).name == "one"


def test_a_cache_others_can_write_is_not_used(cache, tmp_path, monkeypatch):
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: one\nnodes:\n  a: {}\n")
    blueprint.load(lab)
    [entry] = cache.iterdir()
    forged = dataclasses.replace(blueprint.load(lab), name="forged")
    entry.write_text(forged.to_json())
    assert blueprint.load(lab).name == "forged"  # the user's own private entry: trusted
    cache.chmod(0o777)
    assert blueprint.load(lab).name == "one"  # group- or world-writable: ignored
    cache.chmod(0o700)
    entry.chmod(0o644)
    assert blueprint.load(lab).name == "one"


def test_up_from_the_cache_imports_no_pydantic(cache, tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text((ROOT / "labs/nat-lab/lab.yaml").read_text())
    env = {**os.environ, "XDG_CACHE_HOME": str(cache.parents[1])}
    blueprint.load(lab)  # validated here, cached for the process below
    probe = ("import sys; from labctl import console, output; "
             "from labctl.lab import blueprint, plan; from labctl.service import engine; "
             "from labctl.cli.backends import local; import labctl.output.text; "
             f"b = blueprint.load({str(lab)!r}); plan.plan_lab(b, 'i', "
             "{n: f'10.9.{i}.0/24' for i, (n, _) in enumerate(b.networks)}, 'img'); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('pydantic', 'yaml', 'typer', 'docker') or m == 'labctl.lab.model'))")
    out = subprocess.run([sys.executable, "-c", probe], check=True, env=env, cwd=ROOT,
                         capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_the_loader_validates_the_very_text_that_was_hashed(cache, tmp_path, monkeypatch):
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: one\nnodes:\n  a: {}\n")
    seen = []
    parse = loader.parse
    monkeypatch.setattr(loader, "parse", lambda text, file: (seen.append(text),
                                                             parse(text, file))[1])
    monkeypatch.setattr(loader, "load", lambda *_: pytest.fail("read the file a second time"))
    blueprint.load(lab)
    assert seen == [lab.read_text()]


def test_no_home_directory_means_no_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    def homeless():
        raise RuntimeError("Could not determine home directory.")
    monkeypatch.setattr(Path, "home", homeless)
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: one\nnodes:\n  a: {}\n")
    assert blueprint.load(lab).name == "one"


def test_a_cache_under_a_folder_others_can_change_is_not_used(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # no sticky bit: anyone could swap what is below
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared / "cache"))
    assert blueprint._folder() is None
    shared.chmod(0o1777)  # sticky: usable only if root owns it, as /tmp
    assert (blueprint._folder() is None) == (shared.stat().st_uid != 0)


def test_a_symlinked_cache_folder_is_not_used(tmp_path, monkeypatch):
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    (tmp_path / "cache" / "labctl").mkdir(parents=True, mode=0o700)
    (tmp_path / "cache" / "labctl" / "blueprints").symlink_to(real)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert blueprint._folder() is None  # a link could lead anywhere its maker likes


@pytest.mark.parametrize("text", ["null", '"x"', "[]", "{}", "[" * 5000])
def test_an_entry_of_any_other_shape_is_a_miss(cache, tmp_path, text):
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: one\nnodes:\n  a: {}\n")
    blueprint.load(lab)
    [entry] = cache.iterdir()
    entry.write_text(text)
    assert blueprint.load(lab).name == "one"


def test_the_size_limit_is_the_loaders():
    from labctl.lab import yaml_reader as yamlsource
    assert blueprint._MAX_BYTES == yamlsource.MAX_BYTES
