"""docs/authoring.md stays true: every key of the format appears in its reference."""

import re
from pathlib import Path

from pydantic import BaseModel

from labctl.lab import model

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
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models(arg)]


def test_every_key_is_documented():
    documented = set(re.findall(r"`([a-z_]+)`", DOC))
    missing = sorted(model_keys(model.Lab) - documented)
    assert missing == []


def test_the_worked_example_is_one_valid_lab():
    from labctl.lab.loader import parse

    blocks = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
    lab = parse("".join(blocks[:3]), "docs/authoring.md")
    assert lab.name == "sockets-lab" and len(lab.checks) == 4


def test_every_allowed_sysctl_is_documented():
    assert [k for k in model.ALLOWED_SYSCTLS if f"`{k}`" not in DOC] == []


def test_schema_doc_names_the_published_file_and_id():
    from labctl.lab import schema

    text = (Path(__file__).resolve().parents[2] / "docs" / "schema.md").read_text()
    assert f"labs/{schema.FILE_NAME}" in text and "urn:labctl:lab-schema:" in text
    assert schema.SCHEMA_ID.startswith("urn:labctl:lab-schema:")


def test_reading_limits_are_the_loaders():
    from labctl.lab import yaml_reader as ys

    for limit in (f"{ys.MAX_BYTES // 1024} KiB", f"{ys.MAX_DEPTH} levels",
                  f"{ys.MAX_NODES:,} values", f"{ys.MAX_DIGITS} digits"):
        assert limit in DOC, limit


def test_the_writable_places_and_their_sizes_are_as_documented():
    from labctl.lab import plan

    rows = dict(re.findall(r"^\| `(/[a-z/]+)` \| memory_mib / (\d+) \|", DOC, re.M))
    divisors = {path: divisor for path, (divisor, _) in plan.TMPFS.items()}
    divisors[plan.CAPTURE_DIR] = plan.CAPTURE_TMPFS_DIVISOR
    divisors["/dev/shm"] = plan.SHM_DIVISOR
    assert {path: int(d) for path, d in rows.items()} == divisors
