"""Node facts (`{{ server.ip }}`): checked at load time, filled in at run time."""

from __future__ import annotations

import pytest
from fakelab import Shell, install, up

from labctl.checks.run import LabState, run_checks
from labctl.errors import LabInvalid
from labctl.lab import loader
from labctl.service.steps import run_steps

LAB = """
name: facts
networks:
  lan: {}
  wan: {}
nodes:
  server:
    networks: [lan, wan]
    services: [{http: {port: 6789}}]
  client: {}
steps:
  - on: client
    run: curl -s http://{{ server.ip }}:6789/ ; echo {{ server.wan.ip }} {{ server.mac }}
    stdout_contains: "{{ instance }}/{{ lab }}"
checks:
  - http: {from: client, url: "http://{{ server.ip }}:6789/", body_contains: "{{instance}}"}
  - command: {on: client, run: "echo {{ client.lan.mac }}", stdout_contains: "{{ client.mac }}"}
"""


def test_facts_are_filled_in_steps_and_checks_from_the_running_nodes():
    engine, lab, nodes = up(LAB, instance="alice")
    seen: list[str] = []

    def answer(command: str):
        seen.append(command)
        return 0, f"HTTP/1.1 200 OK\r\n\r\n{command} alice/facts", ""

    shell = Shell()
    shell.reply = answer
    install(engine.runtime, {"client": shell})
    server, client = nodes["server"], nodes["client"]
    [step] = run_steps(engine.runtime, lab.steps, nodes)
    assert step.passed, step.message
    assert seen[-1] == (f"curl -s http://{server.ip}:6789/ ; echo {server.addresses['wan']} "
                        f"{server.mac}")
    results = run_checks(LabState(engine.runtime, nodes), lab.checks)
    assert [r.message for r in results if not r.passed] == []
    assert any(f"http://{server.ip}:6789/" in c for c in seen)
    assert f"echo {client.mac}" in seen
    # titles keep what the author wrote: stable names for reports and pytest items
    assert results[0].title.startswith("HTTP GET http://{{ server.ip }}:6789/")


def test_unknown_facts_are_refused_with_their_line():
    text = LAB.replace("{{ server.wan.ip }}", "{{ server.dmz.ip }}").replace(
        '"{{instance}}"', '"{{ sever.ip }} {{ server.port }} {{ server }} {{ when }}"')
    with pytest.raises(LabInvalid) as caught:
        loader.parse(text, "lab.yaml")
    lines = [str(p) for p in caught.value.problems]
    assert lines == [
        "lab.yaml:13: steps[0].run: {{ server.dmz.ip }}: server is not on network 'dmz' "
        "(its networks: lan, wan)",
        "lab.yaml:16: checks[0].http.body_contains: {{ sever.ip }}: no node named 'sever' "
        "(did you mean 'server'?)",
        "lab.yaml:16: checks[0].http.body_contains: unknown fact {{ server.port }}: a node "
        "has ip and mac, e.g. {{ server.ip }}",
        "lab.yaml:16: checks[0].http.body_contains: {{ server }} is a node: say which fact, "
        "e.g. {{ server.ip }}",
        "lab.yaml:16: checks[0].http.body_contains: unknown fact {{ when }}; write "
        "{{ server.ip }}, {{ server.lan.mac }} or {{ instance }}",
    ]
