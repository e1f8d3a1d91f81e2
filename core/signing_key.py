"""The organisation's signing key and certificates, for signatures over bytes (ledger checkpoints).

The key and certificate are the ones that sign approved reports: settings REPORT_SIGNING_KEY
(PEM, PKCS#8, encrypted with REPORT_SIGNING_KEY_PASSPHRASE when that is set) and
REPORT_SIGNING_CERT, made by `manage.py create_signing_key` or supplied by the organisation.
A replaced certificate is kept under `retired/` next to the current one and stays trusted, so
that what the old key signed keeps verifying.

ECDSA (SHA-256), RSA (PSS, SHA-256) and Ed25519 keys are accepted.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from django.conf import settings

ECDSA_SHA256 = "ecdsa-sha256"
RSA_PSS_SHA256 = "rsa-pss-sha256"
ED25519 = "ed25519"

KEY_MISSING = (
    "no signing key at {key} and certificate at {cert}: run `manage.py create_signing_key` "
    "or set REPORT_SIGNING_KEY and REPORT_SIGNING_CERT"
)


class SigningKeyMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Signature:
    value: bytes
    algorithm: str
    certificate_sha256: str


def key_paths() -> tuple[Path, Path]:
    return Path(settings.REPORT_SIGNING_KEY), Path(settings.REPORT_SIGNING_CERT)


def certificate_sha256(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def trusted_certificates() -> dict[str, x509.Certificate]:
    """The current certificate and every one it replaced, by their SHA-256 fingerprints."""
    _, cert_path = key_paths()
    retired = cert_path.parent / "retired"
    paths = [cert_path] if cert_path.exists() else []
    paths += sorted(retired.glob("*.pem")) if retired.is_dir() else []
    certificates = (x509.load_pem_x509_certificate(path.read_bytes()) for path in paths)
    return {certificate_sha256(c): c for c in certificates}


def _algorithm_of(key) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ECDSA_SHA256
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_PSS_SHA256
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ED25519
    raise SigningKeyMissing(f"the signing key is a {type(key).__name__}; use an ECDSA, RSA or Ed25519 key")


_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(data: bytes) -> Signature:
    """Sign `data` with the organisation's private key; the signature names the certificate to check it with."""
    key_path, cert_path = key_paths()
    if not key_path.exists() or not cert_path.exists():
        raise SigningKeyMissing(KEY_MISSING.format(key=key_path, cert=cert_path))
    passphrase = settings.REPORT_SIGNING_KEY_PASSPHRASE
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=passphrase.encode() or None)
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (ValueError, TypeError) as exc:
        raise SigningKeyMissing(
            f"the signing key {key_path} or certificate {cert_path} could not be read: {exc}"
        ) from None
    public = key.public_key()
    if public.public_bytes(*_SPKI) != certificate.public_key().public_bytes(*_SPKI):
        raise SigningKeyMissing(f"the signing key {key_path} does not belong to the certificate {cert_path}")
    algorithm = _algorithm_of(public)
    if algorithm == ECDSA_SHA256:
        value = key.sign(data, ec.ECDSA(hashes.SHA256()))
    elif algorithm == RSA_PSS_SHA256:
        value = key.sign(data, _PSS, hashes.SHA256())
    else:
        value = key.sign(data)
    return Signature(value=value, algorithm=algorithm, certificate_sha256=certificate_sha256(certificate))


NOT_TRUSTED = "it was signed with a certificate (SHA-256 {fingerprint}) that is not one of the organisation's"
ALGORITHM_MISMATCH = "its signature algorithm {algorithm!r} does not fit the certificate's key"
BAD_SIGNATURE = "its signature does not verify: the signed content was changed, or someone else signed it"


def verify(data: bytes, signature: Signature) -> str | None:
    """None when `signature` is a valid signature of `data` by a trusted certificate, else why not."""
    certificate = trusted_certificates().get(signature.certificate_sha256)
    if certificate is None:
        return NOT_TRUSTED.format(fingerprint=signature.certificate_sha256[:16] + "…")
    public = certificate.public_key()
    try:
        algorithm = _algorithm_of(public)
    except SigningKeyMissing:
        algorithm = None
    if algorithm != signature.algorithm:
        return ALGORITHM_MISMATCH.format(algorithm=signature.algorithm)
    try:
        if algorithm == ECDSA_SHA256:
            public.verify(signature.value, data, ec.ECDSA(hashes.SHA256()))
        elif algorithm == RSA_PSS_SHA256:
            public.verify(signature.value, data, _PSS, hashes.SHA256())
        else:
            public.verify(signature.value, data)
    except InvalidSignature:
        return BAD_SIGNATURE
    return None
