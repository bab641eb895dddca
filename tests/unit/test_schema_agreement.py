"""One schema truth: check-jsonschema with the published schema agrees with `labctl validate`
on every shipped lab and every case of the invalid corpus.

Both read the files as YAML 1.2 (check-jsonschema through ruamel.yaml, labctl through its own
core-schema resolver). The cases below are what no JSON Schema can express; for each, the
test insists the schema accepts it, so the list stays exact.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import check_jsonschema  # a dev dependency (pyproject): never skipped
import pytest

from labctl.errors import LabInvalid
from labctl.lab import loader, schema

ROOT = Path(__file__).resolve().parents[2]
LABS = sorted(ROOT.glob("labs/*/lab.yaml"))
CASES = sorted(ROOT.glob("tests/cases/invalid/*/lab.yaml"))

RELATION = ("a reference between items (JSON Schema checks each value against its own schema; "
            "it cannot compare a value with keys or values elsewhere in the document)")
BEYOND_JSON_SCHEMA = {
    "check-seen-on-unknown": RELATION,
    "check-unknown-node": RELATION,
    "custom-image-with-services": RELATION + ": services with image",
    "fact-unknown-name": RELATION + ": a {{ fact }} in a text and the lab's nodes",
    "link-on-foreign-network": RELATION,
    "masquerade-foreign-network": RELATION,
    "network-without-nodes": RELATION,
    "node-unknown-network": RELATION,
    "overlapping-subnets": RELATION + ": subnets of two networks",
    "route-via-node-not-on-target": RELATION,
    "route-via-unknown-node": RELATION,
    "same-port-twice": RELATION + ": ports of two services",
    "step-unknown-node": RELATION,
    "wire-check-without-capture": RELATION + ": a check and every node's capture",
    "timestamp-tag": "an explicit YAML tag (!!timestamp): tags are gone once YAML becomes JSON "
                     "data, and check-jsonschema reads timestamps as text on purpose",
}


def schema_refuses(files: list[Path], schema_file: Path) -> dict[Path, bool]:
    """check-jsonschema's verdict per file, run in-process over one batch. Its YAML reader
    crashes on a few inputs (integers over 4,300 digits, very deep nesting) and then stops
    the whole batch: such a file counts as refused, and is left out of the batch."""
    from check_jsonschema.parsers import ParseError, ParserSet

    parsers = ParserSet()
    crashed = set()
    for path in files:
        try:
            parsers.parse_file(path, "yaml")
        except ParseError:
            pass  # reported as a parse error by the batch
        except (Exception, RecursionError):  # noqa: BLE001 - the checker's own crash
            crashed.add(path)
    # Reporting an integer of over 4,300 digits trips Python's guard on int-to-text and
    # crashes the batch; lifted here, the checker judges that file like any other.
    digits = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        refused = _batch_refuses([f for f in files if f not in crashed], schema_file)
    finally:
        sys.set_int_max_str_digits(digits)
    return {f: f in crashed or refused[f] for f in files}


def _batch_refuses(files: list[Path], schema_file: Path) -> dict[Path, bool]:
    """A crash while validating (reporting a 5,000-digit integer) also refuses: split to find it."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            check_jsonschema.main(["-o", "JSON", "--schemafile", str(schema_file),
                                   *map(str, files)], standalone_mode=False)
    except Exception:  # noqa: BLE001 - the checker's own crash
        if len(files) == 1:
            return {files[0]: True}
        half = len(files) // 2
        return _batch_refuses(files[:half], schema_file) | _batch_refuses(files[half:],
                                                                           schema_file)
    report = json.loads(out.getvalue())
    refused = {e["filename"] for e in report.get("errors", []) + report.get("parse_errors", [])}
    return {f: str(f) in refused for f in files}


def loader_refuses(path: Path) -> bool:
    try:
        loader.load(path)
    except LabInvalid:
        return True
    return False


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory) -> dict[Path, bool]:
    schema_file = tmp_path_factory.mktemp("schema") / schema.FILE_NAME
    schema_file.write_text(json.dumps(schema.lab_schema()))
    return schema_refuses(LABS + CASES, schema_file)


def test_schema_accepts_every_shipped_lab(verdicts):
    assert [lab for lab in LABS if verdicts[lab]] == []


def test_schema_and_loader_agree_on_every_invalid_case(verdicts):
    disagree = [case.parent.name for case in CASES
                if verdicts[case] != loader_refuses(case)
                and case.parent.name not in BEYOND_JSON_SCHEMA]
    assert disagree == []


def test_every_case_beyond_json_schema_is_one(verdicts):
    cases = {case.parent.name: case for case in CASES}
    assert set(BEYOND_JSON_SCHEMA) <= set(cases)
    for name in BEYOND_JSON_SCHEMA:
        assert loader_refuses(cases[name]) and not verdicts[cases[name]], name


def test_schema_is_a_valid_2020_12_schema_with_an_id():
    from jsonschema import Draft202012Validator

    published = schema.lab_schema()
    Draft202012Validator.check_schema(published)
    assert published["$schema"] == schema.DIALECT and published["$id"] == schema.SCHEMA_ID
