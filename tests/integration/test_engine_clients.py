"""Both engine clients against the real engine: labctl's Engine API client
(runtime/engine_api.py, the local socket) and the SDK's (engine_sdk.py) give the same
answers and labctl's own errors."""

from __future__ import annotations

import contextlib
import io
import tarfile
import uuid

import docker.errors
import pytest

from labctl.errors import EngineConflict, EngineNotFound
from labctl.runtime.engine_api import EngineAPI, EngineClient, unix_socket
from labctl.runtime.engine_sdk import SdkEngine

pytestmark = pytest.mark.docker


@pytest.fixture(params=["engine-api", "sdk"])
def client(request, api) -> EngineClient:
    return EngineAPI(unix_socket(None)) if request.param == "engine-api" else SdkEngine(api)


def test_what_is_not_there_is_engine_not_found(client):
    missing = f"labctl-none-{uuid.uuid4().hex[:8]}"
    for call in (lambda: client.inspect_image(f"{missing}:1"),
                 lambda: client.inspect_container(missing),
                 lambda: client.remove_network(missing),
                 lambda: client.exec_inspect(missing)):
        with pytest.raises(EngineNotFound):
            call()


def test_a_build_tag_and_a_taken_name(client, api, node_image):
    """A build from a tar context (no registry: FROM the node image), its progress
    records, a tag, and a second container of one name refused as a conflict."""
    tag = f"labctl-test-build:{uuid.uuid4().hex[:8]}"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        dockerfile = f"FROM {node_image}\nLABEL built.by=test\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    context.seek(0)
    name = f"labctl-test-{uuid.uuid4().hex[:8]}"
    try:
        records = list(client.build(context, tag, {"labctl.test": "1"}, {}))
        assert not [r for r in records if "error" in r], records
        assert client.inspect_image(tag)["Config"]["Labels"]["built.by"] == "test"
        client.tag(tag, tag.split(":")[0], "again")
        assert client.inspect_image(tag.split(":")[0] + ":again")
        client.create_container(tag, name=name, labels={}, host_config={},
                                entrypoint=["true"])
        with pytest.raises(EngineConflict):
            client.create_container(tag, name=name, labels={}, host_config={},
                                    entrypoint=["true"])
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_container(name, force=True)
        for ref in (tag, tag.split(":")[0] + ":again"):
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_image(ref, force=True)


def test_a_root_filesystem_is_imported_with_its_changes(client, api, tmp_path):
    """`docker import` of a tarball streamed from disk, as the node image's base is made."""
    tarball = tmp_path / "rootfs.tar"
    with tarfile.open(tarball, "w") as tar:
        data = b"hello\n"
        info = tarfile.TarInfo("etc/greeting")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    repo, tag = "labctl-test-import", uuid.uuid4().hex[:8]
    try:
        client.import_image(tarball, repo, tag, ['LABEL made.by="test"', "ENV GREETING=1"])
        config = client.inspect_image(f"{repo}:{tag}")["Config"]
        assert config["Labels"]["made.by"] == "test" and "GREETING=1" in config["Env"]
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_image(f"{repo}:{tag}", force=True)
