"""The host guard installed as a user in the docker group gets it: through the
helper container, which holds NET_ADMIN only and leaves nothing behind."""

import shutil
import subprocess

import pytest

from labctl.errors import RuntimeFailure
from labctl.runtime import DockerRuntime
from labctl.runtime import host_guard as isolation
from labctl.runtime.docker import connect as docker_runtime

pytestmark = pytest.mark.docker
HELPER = {"label": "labctl.helper=host-guard"}


def as_docker_group_user(tmp_path) -> isolation.Host:
    real = isolation.current_host()
    return isolation.Host(root=False, nft=None, local_engine=real.local_engine,
                          boot_id=real.boot_id or "test", engine=real.engine,
                          marker=tmp_path / "host-guard")


def test_the_helper_holds_only_net_admin_and_is_removed(api, node_image):
    before = {c["Id"] for c in api.containers(all=True, filters=HELPER)}
    code, output = docker_runtime().run_host_helper(node_image,
                                                      ["grep", "CapEff", "/proc/self/status"])
    assert code == 0, output
    assert output.split() == ["CapEff:", f"{1 << 12:016x}"]  # CAP_NET_ADMIN is bit 12
    assert {c["Id"] for c in api.containers(all=True, filters=HELPER)} <= before


def test_installed_through_the_helper_then_remembered(api, node_image, tmp_path):
    me = as_docker_group_user(tmp_path)
    runtime = docker_runtime()
    assert isolation.install(runtime, lambda: node_image, me) == "container"
    assert me.marker.read_text() == isolation.marker_for(me)
    assert isolation.install(runtime, lambda: node_image, me) == "done"
    if shutil.which("nft"):
        listed = subprocess.run(["nft", "list", "table", "inet", "labctl"],
                                capture_output=True, text=True)
        assert 'iifname "lc-*" oifname != "lc-*"' in listed.stdout, listed.stderr


def test_a_helper_failure_is_reported_not_ignored(api, node_image):
    code, output = docker_runtime().run_host_helper(node_image, ["nft", "not a ruleset"])
    assert code != 0 and "Error" in output

    class Refusing(DockerRuntime):
        def run_host_helper(self, image, argv):
            return super().run_host_helper(image, ["nft", "not a ruleset"])

    with pytest.raises(RuntimeFailure, match="cannot install labctl's host guard"):
        isolation.install(Refusing(docker_runtime()._api), lambda: node_image,
                          isolation.Host(False, None, True, "b", "default", None))
