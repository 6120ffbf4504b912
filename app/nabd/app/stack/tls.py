"""The stack's own certificate authority, the broker's certificate and one per client.

Generated with ``cryptography`` (EC P-256: small and fast) into the state folder. Two CAs: the
stack's CA signs the servers' certificates and the services' client certificates (the services'
listener wants one of those *and* a password); the gateways' CA signs gateways' client
certificates only, whose common name is the gateway's client id and *is* its account on the
gateway listener (see :mod:`nabd.app.stack.mosquitto`). Neither listener trusts the other's
client certificates. A removed gateway's certificate is listed in a CRL the broker checks.
Certificates are (re)issued when missing, close to
expiry, or not signed by the current CA (the CA was regenerated), so ``stack up`` heals a
partly deleted state folder.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_CA_DAYS: Final = 3650
_LEAF_DAYS: Final = 825
_RENEW_BEFORE: Final = dt.timedelta(days=30)


@dataclass(frozen=True)
class Authority:
    """The CA certificate and its private key, to sign leaves with."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.chmod(0o644)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Nabd local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _load(cert_path: Path, key_path: Path) -> Authority | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    return Authority(cert, key)


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - _now() > _RENEW_BEFORE


STACK_CA: Final = "Nabd local stack CA"
GATEWAY_CA: Final = "Nabd local stack gateways CA"


def ensure_authority(cert_path: Path, key_path: Path, common_name: str = STACK_CA) -> Authority:
    """The CA in ``cert_path``/``key_path``, created if missing or about to expire."""
    existing = _load(cert_path, key_path)
    if existing is not None and _fresh(existing.cert):
        return existing
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return Authority(cert, key)


def _signed_by(cert: x509.Certificate, ca: Authority) -> bool:
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _leaf_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _issue(ca: Authority, common_name: str, server: bool, cert_path: Path, key_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + dt.timedelta(days=_LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(aki, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if server:
        names: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    _write_key(key_path, key)
    _write_cert(cert_path, builder.sign(ca.key, hashes.SHA256()))


def ensure_leaf(
    ca: Authority, common_name: str, *, server: bool, cert_path: Path, key_path: Path
) -> bool:
    """Make sure a valid certificate for ``common_name`` exists; return whether one was issued.

    A server certificate names ``localhost`` and ``127.0.0.1``; a client certificate's common
    name is the account name (for a gateway, the broker takes it as the username). A
    certificate with another common name is re-issued.
    """
    existing = _load_leaf(cert_path, key_path)
    if (
        existing is not None
        and _fresh(existing)
        and _signed_by(existing, ca)
        and _common_name(existing) == common_name
    ):
        return False
    _issue(ca, common_name, server, cert_path, key_path)
    return True


def _common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def serial_of(cert_path: Path) -> int | None:
    """The serial number of the certificate in ``cert_path``, ``None`` when there is none."""
    try:
        return x509.load_pem_x509_certificate(cert_path.read_bytes()).serial_number
    except (FileNotFoundError, ValueError):
        return None


def write_crl(ca: Authority, revoked: Iterable[int], path: Path) -> None:
    """A CRL listing ``revoked`` serials, valid as long as the CA (an expired CRL would make
    the broker refuse every client). Written on every ``up`` and every removal."""
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(ca.cert.not_valid_after_utc)
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    for serial in sorted(set(revoked)):
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(ca.key, hashes.SHA256())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    tmp.chmod(0o644)
    tmp.replace(path)


def _load_leaf(cert_path: Path, key_path: Path) -> x509.Certificate | None:
    if not key_path.exists():
        return None
    try:
        return x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
