"""Validation is near-linear: the two large labs of issue 14 validate in under 2 s each
(they took 89 s and 15-22 s when overlaps were checked pairwise and every unknown
reference ran difflib over every node). Measured in CPU time: other work on a shared
host slows the wall clock, not the loader."""

import time

import pytest

from bench.biglabs import many_networks, many_references
from labctl.errors import LabInvalid
from labctl.loader import parse


def timed(text: str, runs: int = 2) -> tuple[float, object]:
    """Best CPU time of `runs` parses, and what the parse gave (a lab or a LabInvalid)."""
    best, outcome = float("inf"), None
    for _ in range(runs):
        start = time.process_time()
        try:
            outcome = parse(text, "big.yaml")
        except LabInvalid as exc:
            outcome = exc
        best = min(best, time.process_time() - start)
    return best, outcome


def test_six_thousand_networks_with_subnets():
    seconds, lab = timed(many_networks())
    assert len(lab.networks) == 6000
    assert seconds < 2.0


def test_five_thousand_unknown_references_among_four_thousand_nodes():
    seconds, error = timed(many_references())
    assert len(error.problems) == 5000
    assert str(error.problems[0]).startswith("big.yaml:4004: steps[0].on: no node named")
    assert seconds < 2.0


def test_one_wide_subnet_over_thousands_is_reported_once():
    text = many_networks().replace("n5999: {subnet: 10.0.187.120/29}", "n5999: {subnet: "
                                   "10.0.0.0/16}")
    with pytest.raises(LabInvalid) as info:
        parse(text, "big.yaml")
    assert [str(p) for p in info.value.problems] == [
        "big.yaml:6002: networks.n5999.subnet: 10.0.0.0/16 overlaps network 'n0' (10.0.0.0/29)"]
