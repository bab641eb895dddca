"""The host guard's pure parts: bridge names, the ruleset, how it gets installed."""

from pathlib import Path

import pytest

from labctl.errors import RuntimeFailure
from labctl.runtime import host_guard as isolation


def host(**overrides) -> isolation.Host:
    values = {"root": False, "nft": None, "local_engine": True, "boot_id": "b1",
              "engine": "default", "marker": None}
    return isolation.Host(**{**values, **overrides})


def test_bridge_names_fit_linux_and_match_the_guard():
    name = isolation.bridge_name("labctl.alice.nat-lab.inside")
    assert name.startswith("lc-") and len(name) == 15
    assert name == isolation.bridge_name("labctl.alice.nat-lab.inside")
    assert name != isolation.bridge_name("labctl.bob.nat-lab.inside")


def test_ruleset_drops_input_forward_and_output_of_lab_bridges():
    rules = isolation.RULESET
    assert 'iifname "lc-*" counter drop' in rules  # input, in inet and arp
    assert 'iifname "lc-*" oifname != "lc-*" counter drop' in rules  # out of a lab
    assert 'oifname "lc-*" iifname != "lc-*" counter drop' in rules  # into a lab
    assert rules.count("hook input") == 2 and rules.count("hook output") == 2
    # An atomic replace: create-if-missing, delete, define, in one transaction.
    for family in ("inet", "arp"):
        assert f"table {family} labctl {{}}\ndelete table {family} labctl\n" in rules


def test_root_on_the_engine_host_runs_nft_every_time():
    assert isolation.how_to_install(host(root=True, nft="/usr/sbin/nft"), None) == "nft"
    marker = isolation.marker_for(host(root=True, nft="/usr/sbin/nft"))
    assert isolation.how_to_install(host(root=True, nft="/usr/sbin/nft"), (marker, 1)) == "nft"


@pytest.mark.parametrize("who", [
    {"root": False, "nft": "/usr/sbin/nft"},  # a user in the docker group
    {"root": True, "nft": None},  # no nft on this machine
    {"root": True, "nft": "/usr/sbin/nft", "local_engine": False},  # DOCKER_HOST elsewhere
])
def test_otherwise_a_helper_container_once_per_boot_and_hour(who):
    me = host(**who)
    assert isolation.how_to_install(me, None) == "container"
    assert isolation.how_to_install(me, (isolation.marker_for(me), 5)) == "done"
    old = (isolation.marker_for(me), isolation.MARKER_TTL + 1)
    assert isolation.how_to_install(me, old) == "container"  # a flushed ruleset comes back
    rebooted = host(**{**who, "boot_id": "b2"})
    assert isolation.how_to_install(rebooted, (isolation.marker_for(me), 5)) == "container"
    elsewhere = host(**{**who, "engine": "tcp://10.0.0.5:2376"})
    assert isolation.how_to_install(elsewhere, (isolation.marker_for(me), 5)) == "container"


class FakeRunner:
    def __init__(self, code: int = 0, output: str = ""):
        self.calls: list[tuple[str, list[str]]] = []
        self.code, self.output = code, output

    def run_host_helper(self, image: str, argv: list[str]) -> tuple[int, str]:
        self.calls.append((image, argv))
        return self.code, self.output


def test_the_helper_runs_once_then_the_marker_says_done(tmp_path: Path):
    me = host(marker=tmp_path / "labctl" / "host-guard")
    runner = FakeRunner()
    assert isolation.install(runner, lambda: "img", me) == "container"
    assert isolation.install(runner, lambda: "img", me) == "done"
    assert runner.calls == [("img", ["nft", isolation.RULESET])]


def test_a_failed_helper_stops_the_lab_and_leaves_no_marker(tmp_path: Path):
    me = host(marker=tmp_path / "host-guard")
    with pytest.raises(RuntimeFailure, match="no lab starts.*Operation not permitted"):
        isolation.install(FakeRunner(1, "Error: Operation not permitted"), lambda: "img", me)
    assert not me.marker.exists()


def test_an_unwritable_marker_only_costs_the_helper_again(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    me = host(marker=blocker / "host-guard")  # its parent is a file: cannot be written
    runner = FakeRunner()
    isolation.install(runner, lambda: "img", me)
    isolation.install(runner, lambda: "img", me)
    assert len(runner.calls) == 2
