"""A swarm's engines over mutual TLS: the docker SDK's client, and images copied between
engines (`docker save | docker load`), for runtime/swarm.py and the test swarm."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from labctl.errors import RuntimeFailure

if TYPE_CHECKING:
    import docker

DEFAULT_PORT = 2376  # where each engine listens (Docker's port for TLS)


def engine_client(url: str, certs: Path, timeout: float = 60) -> docker.APIClient:
    """The docker SDK on a remote engine over mutual TLS (its certificate verified)."""
    import docker
    tls = docker.tls.TLSConfig(client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
                               ca_cert=str(certs / "ca.pem"), verify=True)
    client = _tls_client_class()(base_url=url.replace("tcp://", "https://", 1), tls=tls,
                                 timeout=timeout, version="1.41")
    # requests lets REQUESTS_CA_BUNDLE (and proxy variables) override the session's own
    # CA (psf/requests#3829): only the engines' CA may vouch for an engine, directly.
    client.trust_env = False
    return client


@functools.cache
def _tls_client_class() -> type:
    """docker.APIClient whose exec output is read right over TLS.

    The SDK waits in poll() before each read of an exec's output; over TLS the next
    bytes may already be decrypted in the SSL object, where poll() cannot see them,
    and a followed file (live capture) or a quiet command would hang until more came.
    """
    import docker
    from docker.utils.socket import consume_socket_output, demux_adaptor

    class TLSClient(docker.APIClient):
        def _read_from_socket(self, response, stream, tty=True, demux=False):
            sock = self._get_raw_response_socket(response)
            sock.settimeout(None)  # as the SDK's poll(): an exec may be quiet for long
            frames = _tls_frames(sock, tty)
            gen = ((demux_adaptor(*f) for f in frames) if demux
                   else (data for (_, data) in frames))
            if stream:
                return gen
            try:
                return consume_socket_output(gen, demux=demux)
            finally:
                response.close()

    return TLSClient


def _tls_frames(sock, tty: bool) -> Iterator[tuple[int, bytes]]:
    """An exec's output frames: (stream, bytes); with a tty, all of it is stdout (1)."""
    import struct
    try:
        if tty:
            while chunk := sock.recv(65536):
                yield 1, chunk
            return
        while True:
            header = b""
            while len(header) < 8:
                chunk = sock.recv(8 - len(header))
                if not chunk:
                    return
                header += chunk
            stream, size = struct.unpack(">BxxxL", header)
            while size > 0:
                chunk = sock.recv(min(size, 65536))
                if not chunk:
                    return
                size -= len(chunk)
                yield stream, chunk
    except OSError:  # the engine closed the connection: the output ended
        return


def copy_image(source: docker.APIClient, target: docker.APIClient, ref: str) -> None:
    """`docker save | docker load` between two engines: no registry needed."""
    for line in target.load_image(source.get_image(ref)):
        if isinstance(line, dict) and line.get("error"):
            raise RuntimeFailure(f"loading {ref}: {line['error']}")
