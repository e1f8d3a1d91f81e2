"""PAdES signatures on approved reports (pyHanko), with the organisation's key and certificate."""

import datetime as dt
import os
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

SIGNATURE_FIELD = "ApprovalSignature"


class SigningKeyMissing(RuntimeError):
    pass


def key_paths() -> tuple[Path, Path]:
    return Path(settings.REPORT_SIGNING_KEY), Path(settings.REPORT_SIGNING_CERT)


def retired_dir() -> Path:
    return key_paths()[1].parent / "retired"


def trusted_certificates() -> list:
    """The current certificate and every one it replaced."""
    _, cert_path = key_paths()
    paths = [cert_path] if cert_path.exists() else []
    paths += sorted(retired_dir().glob("*.pem")) if retired_dir().exists() else []
    return [
        asn1_x509.Certificate.load(
            x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER)
        )
        for path in paths
    ]


def create_signing_key(*, common_name: str, organisation: str, days: int = 3 * 365, overwrite: bool = False):
    """A self-signed ECDSA P-256 key and certificate for a single-machine setup; returns their paths."""
    key_path, cert_path = key_paths()
    if not overwrite and (key_path.exists() or cert_path.exists()):
        raise FileExistsError(f"{key_path} or {cert_path} exists; pass overwrite to replace them")
    if cert_path.exists():
        # Reports signed with the old key keep verifying: its certificate stays trusted.
        retired = retired_dir()
        retired.mkdir(parents=True, exist_ok=True)
        cert_path.replace(retired / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{cert_path.name}")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .sign(key, hashes.SHA256())
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    passphrase = settings.REPORT_SIGNING_KEY_PASSPHRASE
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def sign_pdf(pdf: bytes, *, reason: str, name: str) -> bytes:
    key_path, cert_path = key_paths()
    if not key_path.exists() or not cert_path.exists():
        raise SigningKeyMissing(
            f"no signing key at {key_path} and certificate at {cert_path}: run `manage.py create_signing_key` "
            "or set REPORT_SIGNING_KEY and REPORT_SIGNING_CERT"
        )
    passphrase = settings.REPORT_SIGNING_KEY_PASSPHRASE
    signer = signers.SimpleSigner.load(
        str(key_path), str(cert_path), key_passphrase=passphrase.encode() if passphrase else None
    )
    if signer is None:
        raise SigningKeyMissing(f"the signing key {key_path} or certificate {cert_path} could not be read")
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, reason=reason, name=name, subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )  # fmt: skip
    out = BytesIO()
    signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), metadata, signer=signer, output=out)
    return out.getvalue()


@dataclass(frozen=True)
class SignatureCheck:
    present: bool
    intact: bool = False
    trusted: bool = False
    covers_whole_file: bool = False
    signer: str = ""
    signed_at: str = ""

    @property
    def ok(self) -> bool:
        return self.present and self.intact and self.trusted and self.covers_whole_file


def check_signature(pdf: bytes, *, at: dt.datetime | None = None) -> SignatureCheck:
    """Whether the file's signature is intact, made with one of the organisation's certificates, and covers
    the file; the certificate is judged as of `at` (the approval time), so that expiry later does not matter."""
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception:  # noqa: BLE001 - a damaged file simply has no valid signature
        return SignatureCheck(present=False)
    if not signatures:
        return SignatureCheck(present=False)
    context = ValidationContext(trust_roots=trusted_certificates(), allow_fetching=False, moment=at)
    try:
        status = validate_pdf_signature(signatures[-1], context)
    except Exception:  # noqa: BLE001
        return SignatureCheck(present=True)
    return SignatureCheck(
        present=True,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        signer=status.signing_cert.subject.human_friendly,
        signed_at=status.signer_reported_dt.isoformat() if status.signer_reported_dt else "",
    )
