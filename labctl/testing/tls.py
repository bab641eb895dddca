"""Certificates for mutual TLS between labctl and Docker engines (the test swarm's).

One certificate authority signs a server certificate per engine (for its
addresses) and one client certificate for labctl. The engines run dockerd with
`--tlsverify`: a client without a certificate of this CA is refused. docs/runtimes.md
shows the same with openssl, for real hosts.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from labctl.errors import InvalidInput

VALIDITY = datetime.timedelta(days=30)


def _crypto():
    try:
        from cryptography import x509  # noqa: PLC0415 - lazy: cryptography, a dev dependency
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415 - lazy: cryptography, a dev dependency
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415 - lazy: cryptography, a dev dependency
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415 - lazy: cryptography, a dev dependency
    except ImportError:  # a dev dependency: pip install -e ".[dev]"
        raise InvalidInput("making certificates needs the `cryptography` package: "
                           "python3 -m pip install cryptography") from None
    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pem:
    """A key and its certificate, PEM-encoded."""

    key: bytes
    cert: bytes


class Authority:
    """A throwaway certificate authority; its key lives only in this object."""

    def __init__(self, name: str):
        x509, hashes, serialization, ec, _, NameOID = _crypto()
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
        now = datetime.datetime.now(datetime.UTC)
        self._name = subject
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self._key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + VALIDITY)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(
                         digital_signature=True, key_cert_sign=True, crl_sign=True,
                         content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, encipher_only=False,
                         decipher_only=False), critical=True)
                     .sign(self._key, hashes.SHA256()))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def server(self, name: str, addresses: list[str], dns: list[str]) -> Pem:
        """An engine's certificate, valid for these IP addresses and host names."""
        x509, *_ = _crypto()
        sans = [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        sans += [x509.DNSName(d) for d in dns]
        return self._issue(name, sans, server=True)

    def client(self, name: str) -> Pem:
        return self._issue(name, [], server=False)

    def _issue(self, name: str, sans: list, server: bool) -> Pem:
        x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID = _crypto()
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(self._name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + VALIDITY)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Pem(key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()),
                   cert.public_bytes(serialization.Encoding.PEM))


def write_client(directory: Path, ca: bytes, client: Pem) -> None:
    """ca.pem, cert.pem and key.pem (the names DOCKER_CERT_PATH expects); key 0600."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    (directory / "ca.pem").write_bytes(ca)
    (directory / "cert.pem").write_bytes(client.cert)
    key = directory / "key.pem"
    key.touch(mode=0o600)
    key.chmod(0o600)
    key.write_bytes(client.key)
