"""Large labs validate correctly: every network's subnet, every unknown reference, each
reported once with its line. How fast they validate is a benchmark, not a test:
`python3 -m bench.biglabs` times the two labs of issue 14 (6,000 networks; 5,000 unknown
references among 4,000 nodes), which took 89 s and 15-22 s when overlaps were checked
pairwise and every unknown reference ran difflib over every node."""

import pytest

from bench.biglabs import many_networks, many_references
from labctl.errors import LabInvalid
from labctl.lab.loader import parse


def test_many_networks_with_subnets():
    lab = parse(many_networks(600), "big.yaml")
    assert len(lab.networks) == 600
    assert lab.networks["n599"].subnet == "10.0.18.184/29"


def test_many_unknown_references_are_each_reported_with_their_line():
    with pytest.raises(LabInvalid) as info:
        parse(many_references(nodes=400, steps=500), "big.yaml")
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 500
    assert problems[0].startswith("big.yaml:404: steps[0].on: no node named 'ghost-0'")
    assert problems[-1].startswith("big.yaml:903: steps[499].on: no node named 'ghost-499'")


def test_one_wide_subnet_over_many_is_reported_once():
    text = many_networks(600).replace("n599: {subnet: 10.0.18.184/29}",
                                      "n599: {subnet: 10.0.0.0/16}")
    with pytest.raises(LabInvalid) as info:
        parse(text, "big.yaml")
    assert [str(p) for p in info.value.problems] == [
        "big.yaml:602: networks.n599.subnet: 10.0.0.0/16 overlaps network 'n0' (10.0.0.0/29)"]
