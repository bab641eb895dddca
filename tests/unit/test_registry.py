"""Every check kind and every service is declared whole, in one place, and documented."""

import re
from pathlib import Path

import pytest

from labctl.checks.run import title
from labctl.lab import loader, model
from labctl.lab.check_kinds import KINDS
from labctl.lab.model_parts import Strict
from labctl.lab.services import SERVICES
from labctl.paths import node_code_dir

ROOT = Path(__file__).resolve().parents[2]
AUTHORING = (ROOT / "docs" / "authoring.md").read_text()


def _documented_rows() -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)` \|", AUTHORING, re.M))


@pytest.mark.parametrize("name", list(KINDS))
def test_a_check_kind_has_every_part(name):
    kind = KINDS[name]
    assert kind.name == name
    assert issubclass(kind.model, Strict)
    assert callable(kind.check) and callable(kind.title)
    assert kind.node_fields, "a check reads at least one node"
    for field in kind.node_fields:
        assert field in kind.model.model_fields, f"{name}: no field {field}"
    assert name in model.Check.model_fields  # the lab format accepts it
    assert name in _documented_rows(), f"docs/authoring.md has no row for `{name}`"
    if kind.reads_captures:
        assert {"client", "server", "port"} <= set(kind.model.model_fields)


@pytest.mark.parametrize("name", list(KINDS))
def test_a_check_kind_titles_its_checks(name):
    kind = KINDS[name]
    # Required fields get stand-ins; the rest keep their defaults.
    sample = {f: 1 if info.annotation in (int, "int") or "int" in str(info.annotation) else "a"
              for f, info in kind.model.model_fields.items() if info.is_required()}
    check = model.Check.model_construct(**{name: kind.model.model_construct(**sample)})
    text = title(check)
    assert isinstance(text, str) and text and text != name


def test_the_bundled_labs_use_only_registered_kinds():
    for path in loader.available_labs(ROOT).values():
        for check in loader.load(path).checks:
            assert check.kind in KINDS and title(check)


def test_node_fields_cover_every_node_reference():
    # A field typed as a node name that the registry forgot would go unvalidated.
    for name, kind in KINDS.items():
        for field, info in kind.model.model_fields.items():
            if model.NAME_PATTERN in repr(info.metadata) + repr(info.annotation):
                assert field in kind.node_fields, f"{name}.{field} names a node"


@pytest.mark.parametrize("name", list(SERVICES))
def test_a_service_has_every_part(name):
    service = SERVICES[name]
    assert service.proto in ("tcp", "udp")
    assert name in model.Service.model_fields
    assert (node_code_dir() / "services" / f"{name}_server.py").is_file()
    spec = service.model()
    argv = service.argv(spec)
    assert argv[2].endswith(f"/{name}_server.py") and argv[3:5] == ["--port", str(spec.port)]
    assert name in _documented_rows()


def test_the_echo_check_takes_no_service_options():
    for key in ("backlog", "close_delay", "user"):
        assert key not in KINDS["echo"].model.model_fields
