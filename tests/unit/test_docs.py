"""docs/authoring.md stays true: every key of the format appears in its reference."""

import re
from pathlib import Path

from labctl import model

DOC = (Path(__file__).resolve().parents[2] / "docs" / "authoring.md").read_text()


def model_keys(cls, seen=None) -> set[str]:
    seen = seen or set()
    keys = set()
    for name, field in cls.model_fields.items():
        keys.add(field.alias or name)
        for sub in _models(field.annotation):
            if sub not in seen:
                seen.add(sub)
                keys |= model_keys(sub, seen)
    return keys


def _models(annotation) -> list:
    if isinstance(annotation, type) and issubclass(annotation, model.BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models(arg)]


def test_every_key_is_documented():
    documented = set(re.findall(r"`([a-z_]+)`", DOC))
    missing = sorted(model_keys(model.Lab) - documented)
    assert missing == []


def test_the_worked_example_is_one_valid_lab():
    from labctl.loader import parse

    blocks = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
    lab = parse("".join(blocks[:3]), "docs/authoring.md")
    assert lab.name == "sockets-lab" and len(lab.checks) == 4
