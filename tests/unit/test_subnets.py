import ipaddress

import pytest

from labctl.errors import RuntimeFailure
from labctl.runtime import subnets


def test_candidates_skip_used_subnets(monkeypatch):
    monkeypatch.setenv("LABCTL_SUBNET_POOL", "10.50.0.0/22")
    used = [ipaddress.IPv4Network("10.50.0.0/23")]
    found = list(subnets.candidates("x", used))
    assert sorted(str(s) for s in found) == ["10.50.2.0/24", "10.50.3.0/24"]


def test_pool_exhausted_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LABCTL_SUBNET_POOL", "10.50.0.0/24")
    with pytest.raises(RuntimeFailure, match="no free /24"):
        list(subnets.candidates("x", [ipaddress.IPv4Network("10.0.0.0/8")]))


def test_start_point_depends_on_key(monkeypatch):
    monkeypatch.setenv("LABCTL_SUBNET_POOL", "10.50.0.0/16")
    firsts = {next(subnets.candidates(f"lab/{i}", [])) for i in range(20)}
    assert len(firsts) > 10
