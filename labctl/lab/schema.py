"""The published JSON Schema of lab.yaml, generated from the model.

pydantic's own output is close but looser than the loader in a few places;
this module closes the gaps so the schema accepts exactly what pass one of
the loader accepts (tests/unit/test_schema_agreement.py holds it to that):

- maps keyed by names (nodes, networks, links) constrain every key
  (propertyNames) and every value (additionalProperties), not only the keys
  that match a pattern;
- a service may be written as its bare name (`- http`), and a service or a
  check holds exactly one kind (oneOf).

What no JSON Schema can say (references between items, overlapping subnets,
host bits in a subnet) is left to `labctl validate`; docs/schema.md lists it.
"""

from __future__ import annotations

import json
from typing import Any

from labctl import __version__
from labctl.lab import model

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = f"urn:labctl:lab-schema:{__version__}"
FILE_NAME = "lab.schema.json"


def lab_schema() -> dict[str, Any]:
    schema = model.Lab.model_json_schema(by_alias=True, mode="validation")
    _close_name_maps(schema)
    defs = schema.get("$defs", {})
    for cls in (model.Service, model.Check):
        _exactly_one_kind(defs[cls.__name__], cls.KINDS, nullable=cls is model.Service)
    service = defs[model.Service.__name__]
    defs[model.Service.__name__] = {  # `- echo` is short for `- echo: {}`
        "description": service.pop("description", ""),
        "anyOf": [{"enum": list(model.Service.KINDS)}, service],
    }
    return {"$schema": DIALECT, "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    """The schema as published: `labctl schema` prints it, `labctl new` writes it."""
    return json.dumps(lab_schema(), indent=2) + "\n"


def _close_name_maps(node: object) -> None:
    """`patternProperties: {P: S}` -> `propertyNames: {pattern: P}, additionalProperties: S`."""
    if isinstance(node, dict):
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1 and "properties" not in node:
            (pattern, values), = patterns.items()
            del node["patternProperties"]
            node["propertyNames"] = {"pattern": pattern}
            node["additionalProperties"] = values
        for value in node.values():
            _close_name_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_name_maps(value)


def _exactly_one_kind(definition: dict, kinds: tuple[str, ...], nullable: bool) -> None:
    """One kind present and not null (a service's `- echo:` with no value means defaults)."""
    branches = []
    for kind in kinds:
        kind_schema = definition["properties"][kind]
        inner = kind_schema if nullable else {
            "$ref": next(s["$ref"] for s in kind_schema["anyOf"] if "$ref" in s)}
        branches.append({"required": [kind], "properties": {kind: inner}})
    definition["oneOf"] = branches
