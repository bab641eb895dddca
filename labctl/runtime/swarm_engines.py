"""A swarm's engines over mutual TLS, through the docker SDK: the SDK's client (tls_api,
for the test swarm's own calls) and the EngineClient over it (engine_client, for
runtime/swarm.py)."""

from __future__ import annotations

from pathlib import Path

import docker
import docker.tls

from labctl.runtime.engine_sdk import SdkEngine

DEFAULT_PORT = 2376  # where each engine listens (Docker's port for TLS)


def engine_client(url: str, certs: Path, timeout: float = 60) -> SdkEngine:
    """An engine of the swarm, as the Docker runtime reaches it (EngineClient)."""
    return SdkEngine(tls_api(url, certs, timeout))


def tls_api(url: str, certs: Path, timeout: float = 60) -> docker.APIClient:
    """The docker SDK on a remote engine over mutual TLS (its certificate verified).
    Commands' output is read by labctl itself from the exec's socket (engine_api.py's
    Attached takes what TLS has decrypted already), never by the SDK's reader."""
    tls = docker.tls.TLSConfig(client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
                               ca_cert=str(certs / "ca.pem"), verify=True)
    client = docker.APIClient(base_url=url.replace("tcp://", "https://", 1), tls=tls,
                              timeout=timeout, version="1.41")
    # requests lets REQUESTS_CA_BUNDLE (and proxy variables) override the session's own
    # CA (psf/requests#3829): only the engines' CA may vouch for an engine, directly.
    client.trust_env = False
    return client
