"""The published schema: shipped beside the labs, and what `labctl schema` prints."""

import io
import json

import pytest
from clirun import as_process

from labctl.lab import schema
from tests.conftest import ROOT


def test_labs_folder_carries_the_current_schema():
    # regenerate with: python3 -m labctl.cli schema > labs/lab.schema.json
    assert (ROOT / "labs" / schema.FILE_NAME).read_text() == schema.schema_text()


def test_labctl_schema_prints_it(capsys):
    result = as_process(capsys, "schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == schema.lab_schema()


def test_names_are_closed_and_sysctls_listed():
    published = schema.lab_schema()
    nodes = published["properties"]["nodes"]
    assert nodes["propertyNames"] and nodes["additionalProperties"] == {"$ref": "#/$defs/Node"}
    sysctls = published["$defs"]["Node"]["properties"]["sysctls"]["propertyNames"]["enum"]
    assert "net.ipv4.tcp_syncookies" in sysctls


SNIPPETS = [  # (lab text, what both must say: True = valid)
    ("name: x\nnodes: {s: {services: [http, echo, udp]}}\n", True),
    ("name: x\nnodes:\n  s:\n    services:\n      - echo:\n      - http: {gzip: false}\n", True),
    ("name: x\nnodes: {s: {services: [{http: {gzip: yes}}]}}\n", False),
    ("name: x\nnodes: {s: {services: [{http: {port: '80'}}]}}\n", False),
    ("name: x\nnodes: {s: {services: [{http: {}, echo: {}}]}}\n", False),
    ("name: x\nnodes: {s: {services: [{}]}}\n", False),
    ("name: x\nnodes: {s: {services: [ftp]}}\n", False),
    ("name: x\nnodes: {Server_1: {anything: goes}}\n", False),
    ("name: x\nnodes: {a: {}, b: {}}\nchecks: [{reachable: {from: a, to: b, port: 80}}]\n", True),
    ("name: x\nnodes: {a: {}, b: {}}\nchecks: [{reachable: {from_: a, to: b, port: 80}}]\n", False),
    ("name: x\nnodes: {a: {}}\nchecks: [{name: t, listening: {node: a, port: 1}, process: null}]\n",
     True),
    ("name: x\nnodes: {a: {}}\nchecks: [{listening: null}]\n", False),
    ("name: x\nnodes: {a: {}}\nsteps: [{on: a, run: ls, exit_code: null}]\n", True),
    ("name: x\nnodes: {a: {}}\nsteps: [{on: a, run: ls, exit_code: 256}]\n", False),
    ("name: x\nnodes: {a: {sysctls: {net.ipv4.tcp_syncookies: 0}}}\n", True),
    ("name: x\nnodes: {a: {sysctls: {kernel.panic: 1}}}\n", False),
    ("name: x\ndescription: 2024-01-01\nnodes: {a: {}}\n", True),
    ("name: x\nnetworks: {n: {subnet: 10.0.16.0/20}}\nnodes: {a: {networks: [n]}}\n", True),
    ("name: x\nnetworks: {n: {subnet: 10.0.8.0/20}}\nnodes: {a: {networks: [n]}}\n", False),
    ("name: x\nnetworks: {n: {subnet: 10.0.0.0/255.255.255.0}}\nnodes: {a: {networks: [n]}}\n",
     False),
    ("name: x\nnodes: {a: {networks: [lan, lan]}}\n", False),
    ("name: x\nnodes: {a: {resources: {cpus: 1}}}\n", True),
    ("name: x\nnodes: {a: {resources: {cpus: 0}}}\n", False),
    ("name: x\nnodes: {a: {privileged: true}}\n", False),
]


@pytest.mark.parametrize(("text", "valid"), SNIPPETS)
def test_schema_and_loader_agree_on_small_labs(text, valid):
    """Read as check-jsonschema reads YAML (ruamel.yaml, YAML 1.2), judged by the schema."""
    from check_jsonschema.parsers import ParserSet
    from jsonschema import Draft202012Validator

    from labctl.errors import LabInvalid
    from labctl.lab import loader

    data = ParserSet().parse_data_with_path(io.BytesIO(text.encode()), "lab.yaml", "yaml")
    schema_says = Draft202012Validator(schema.lab_schema()).is_valid(data)
    try:
        loader.parse(text, "lab.yaml")
        loader_says = True
    except LabInvalid:
        loader_says = False
    assert (schema_says, loader_says) == (valid, valid)
