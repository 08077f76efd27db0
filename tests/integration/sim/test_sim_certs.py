"""The simulator's certificate: what a TLS client and a pinning client rely on."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ibkr_sim.certs import fingerprint_of, generate_self_signed


def test_fingerprint_is_sha256_of_the_der_certificate() -> None:
    cert = generate_self_signed()
    der = x509.load_pem_x509_certificate(cert.cert_pem).public_bytes(serialization.Encoding.DER)
    assert cert.fingerprint == "sha256:" + hashlib.sha256(der).hexdigest()
    assert fingerprint_of(der) == cert.fingerprint


def test_names_the_loopback_hosts_and_is_valid_now() -> None:
    cert = x509.load_pem_x509_certificate(generate_self_signed().cert_pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    now = dt.datetime.now(dt.UTC)
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
    assert cert.not_valid_after_utc - now > dt.timedelta(days=300)


def test_key_matches_certificate_and_each_call_is_fresh() -> None:
    first, second = generate_self_signed(), generate_self_signed()
    key = serialization.load_pem_private_key(first.key_pem, password=None)
    cert = x509.load_pem_x509_certificate(first.cert_pem)
    assert key.public_key() == cert.public_key()
    assert first.fingerprint != second.fingerprint


def test_no_hosts_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one host"):
        generate_self_signed(())
