"""Evaluate a lab's checks against the running lab.

Node checks go through testinfra hosts (see hosts.py), whose answers are
fetched in one exec per node; packet checks read every capturing node's
pcap once. Captures are read before the active checks (http, echo, ...)
send anything, and every conversation from labctl's probe ports (probes.py)
is left out, so packet checks judge the traffic of the lab's steps however
often `check` runs.
Failures are explained in the course's terms, with what was expected and
what was seen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from labctl.checks import testinfra_host as hosts
from labctl.errors import NodeStopped
from labctl.lab import facts, model
from labctl.lab.check_kinds import KINDS
from labctl.lab.check_kinds.registry import Failed
from labctl.lab.probe_ports import without_probes
from labctl.lab.results import CheckResult
from labctl.runtime import NodeInfo, Runtime
from labctl.trace.analysis import Analysis, Conversation, analyse

CHECK_TIMEOUT = 10  # seconds for a command a check runs in a node


class LabState:
    """What the checks read from a running lab; each piece fetched once."""

    def __init__(self, runtime: Runtime, nodes: dict[str, NodeInfo]):
        self.runtime = runtime
        self.nodes = nodes
        self.hosts = {name: hosts.host(runtime, info.container, name)
                      for name, info in nodes.items()}
        self.captures: list[tuple[str, Analysis]] = []
        self._lock = threading.Lock()

    def ip(self, node: str) -> str:
        return self.nodes[node].ip

    def ips(self, node: str) -> list[str]:
        """Every address of a node, primary first (a router has one per network)."""
        info = self.nodes[node]
        return [info.ip] + [ip for ip in info.addresses.values() if ip != info.ip]

    def run(self, node: str, command: str) -> tuple[int, str, str]:
        code, out, err = self.runtime.run(
            self.nodes[node].container,
            ["timeout", str(CHECK_TIMEOUT), "/bin/sh", "-c", command])
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def prefetch(self, checks: list[model.Check]) -> None:
        """One exec per node for its ss/ps listings, plus every capture, in parallel."""
        wanted: dict[str, list[str]] = {}
        for check in checks:
            kind = KINDS[check.kind]
            if kind.prefetch:
                node = getattr(check.spec, kind.node_fields[0])
                wanted.setdefault(node, list(hosts.DISCOVERY)).extend(kind.prefetch)
        jobs: list[Callable[[], None]] = [
            (lambda n=n, c=c: self.hosts[n].backend.prefetch(c)) for n, c in wanted.items()]
        if any(KINDS[c.kind].reads_captures for c in checks):
            jobs += [(lambda i=info: self._read_capture(i)) for info in self.nodes.values()
                     if info.capture]
        if jobs:
            with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
                list(pool.map(lambda job: job(), jobs))

    def _read_capture(self, info: NodeInfo) -> None:
        data = self.runtime.read_file(info.container, info.capture)
        result = without_probes(analyse(data))  # labctl's own traffic is not judged
        with self._lock:
            self.captures.append((info.node, result))

    def conversations(self, client: str, server: str, port: int, seen_on: str | None = None
                      ) -> list[Conversation]:
        for node, result in sorted(self.captures, key=lambda c: c[0]):
            if seen_on is not None and node != seen_on:
                continue
            for client_ip in self.ips(client):
                for server_ip in self.ips(server):
                    found = result.find(server_port=port, client_ip=client_ip,
                                        server_ip=server_ip)
                    if found:
                        return found
        return []


def title(check: model.Check) -> str:
    return check.name or KINDS[check.kind].title(check.spec)


def evaluate(state: LabState, index: int, check: model.Check) -> CheckResult:
    """One check on a state already prefetched for it (`state.prefetch`)."""
    began = time.perf_counter()
    result = CheckResult(index, check.kind, title(check), True)
    try:
        KINDS[check.kind].check(state, facts.fill(check.spec, state.nodes))
    except Failed as failure:
        result.passed = False
        result.message, result.expected, result.seen = (failure.message, failure.expected,
                                                         failure.seen)
    except NodeStopped:
        raise  # not this check's failure: the lab lost a node, every check would say so
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
        result.passed = False
        result.message = f"the check could not run: {type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - began
    return result


def run_checks(state: LabState, checks: list[model.Check]) -> list[CheckResult]:
    start = time.perf_counter()
    state.prefetch(checks)
    prefetch_share = (time.perf_counter() - start) / max(1, len(checks))

    def one(item: tuple[int, model.Check]) -> CheckResult:
        result = evaluate(state, *item)
        result.seconds += prefetch_share
        return result

    if not checks:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(checks))) as pool:
        return list(pool.map(one, enumerate(checks)))
