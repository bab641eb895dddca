"""The test swarm (labctl/testing/swarm.py): engines that form a swarm, hold labctl's
node image, and answer only a client with a certificate of the cluster's own CA."""

from __future__ import annotations

import socket
import ssl

import pytest

from labctl.runtime import images

pytestmark = pytest.mark.docker


def test_the_engines_form_a_swarm_and_hold_the_node_image(swarm_cluster):
    manager = swarm_cluster.client()
    hosts = {n["Description"]["Hostname"]: n for n in manager.nodes()}
    assert set(hosts) == {e.name for e in swarm_cluster.engines}
    assert all(n["Status"]["State"] == "ready" for n in hosts.values())
    ref = images.node_ref()
    for engine in swarm_cluster.engines:
        labels = swarm_cluster.client(engine).inspect_image(ref)["Config"]["Labels"]
        assert labels[images.HASH_LABEL] == images.node_hash()


def _handshake(addr: str, context: ssl.SSLContext) -> bytes:
    """A request over TLS; what the engine answers (b"" if it closed the connection)."""
    with socket.create_connection((addr, 2376), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=addr) as tls:
        tls.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
        return tls.recv(200)


def test_no_engine_answers_a_client_without_a_certificate_of_the_clusters_ca(swarm_cluster,
                                                                             tmp_path):
    from labctl.testing import tls
    intruder = tls.Authority("stranger").client("intruder")
    (tmp_path / "cert.pem").write_bytes(intruder.cert)
    (tmp_path / "key.pem").write_bytes(intruder.key)
    for engine in swarm_cluster.engines:
        # The right CA, no client certificate; then a certificate of another CA.
        for cert in (None, tmp_path):
            context = ssl.create_default_context(cafile=str(swarm_cluster.certs / "ca.pem"))
            if cert is not None:
                context.load_cert_chain(str(cert / "cert.pem"), str(cert / "key.pem"))
            try:
                answer = _handshake(engine.addr, context)
            except (ssl.SSLError, ConnectionError):
                answer = b""
            assert b"200 OK" not in answer and answer.split(b"\r\n\r\n")[-1] != b"OK"
        # Plain HTTP: the engine speaks only TLS.
        with socket.create_connection((engine.addr, 2376), timeout=10) as raw:
            raw.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            assert b"HTTP request to an HTTPS server" in raw.recv(200)
        # With the cluster's client certificate, it answers.
        context = ssl.create_default_context(cafile=str(swarm_cluster.certs / "ca.pem"))
        context.load_cert_chain(str(swarm_cluster.certs / "cert.pem"),
                                str(swarm_cluster.certs / "key.pem"))
        assert _handshake(engine.addr, context).startswith(b"HTTP/1.0 200 OK")


def test_the_client_key_is_private(swarm_cluster):
    assert (swarm_cluster.certs.stat().st_mode & 0o777) == 0o700
    assert ((swarm_cluster.certs / "key.pem").stat().st_mode & 0o777) == 0o600


def test_down_leaves_nothing_behind(api):
    """Engines, what they ran (and the cgroups they made), the network, the certificates."""
    import glob

    from labctl.testing import swarm
    from tests.conftest import SESSION_PREFIX
    name = f"labctl-swarm-{SESSION_PREFIX}down"
    cluster = swarm.up(1, name, progress=lambda _: None)
    engine = cluster.client()
    made = engine.create_container(images.node_ref(), command=["sleep", "60"])
    engine.start(made["Id"])
    assert glob.glob(f"/sys/fs/cgroup/*/{name}-1") or glob.glob(f"/sys/fs/cgroup/{name}-1")
    assert swarm.down(name, progress=lambda _: None)
    assert api.containers(all=True, filters={"label": f"{swarm.LABEL}={name}"}) == []
    assert api.networks(filters={"label": f"{swarm.LABEL}={name}"}) == []
    assert not cluster.certs.exists()
    assert glob.glob(f"/sys/fs/cgroup/*/{name}-1") + glob.glob(f"/sys/fs/cgroup/{name}-1") == []
    assert swarm.find(name) is None
