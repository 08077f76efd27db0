"""Self-signed TLS certificates for the simulated gateway.

The real Client Portal Gateway serves HTTPS with a self-signed certificate, so the
simulator does too: clients meet the same TLS decisions (loopback trust, pinning by
fingerprint) as in production. Validity uses the real time, not a simulated clock: the
TLS stack of the client checks it against the real time.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["DEFAULT_HOSTS", "SelfSignedCert", "fingerprint_of", "generate_self_signed"]

DEFAULT_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
_VALIDITY = _dt.timedelta(days=365)
_BACKDATE = _dt.timedelta(days=1)


@dataclass(frozen=True)
class SelfSignedCert:
    """A PEM certificate, its PEM private key and its ``sha256:<hex>`` fingerprint."""

    cert_pem: bytes
    key_pem: bytes
    fingerprint: str


def fingerprint_of(certificate_der: bytes) -> str:
    """The pin form ``sha256:<64 lowercase hex>`` of a DER-encoded certificate."""
    return "sha256:" + hashlib.sha256(certificate_der).hexdigest()


def generate_self_signed(hosts: Sequence[str] = DEFAULT_HOSTS) -> SelfSignedCert:
    """Create an EC P-256 certificate valid for ``hosts`` (DNS names or IP addresses).

    Raises ``ValueError`` when ``hosts`` is empty: a certificate with no name matches
    nothing and would only fail later, inside a TLS handshake.
    """
    if not hosts:
        raise ValueError("generate_self_signed needs at least one host name or address")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = _dt.datetime.now(_dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    return SelfSignedCert(
        cert_pem=certificate.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        fingerprint=fingerprint_of(der),
    )


def _alt_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names
