import io
import json

import pytest
from django.core.management import CommandError, call_command

from consent.receipts import KANTARA_VERSION
from tests.conftest import at


def test_it_prints_the_receipt_as_json(grant, subject):
    grant(subject, purposes=["evaluation", "bias_audit"], collected_at=at(2025, 2))
    out = io.StringIO()
    call_command("consent_receipt", "SUBJ-ADULT", stdout=out)
    receipt = json.loads(out.getvalue())
    assert receipt["version"] == KANTARA_VERSION
    assert receipt["piiPrincipalId"] == "SUBJ-ADULT"
    assert {p["purpose"] for p in receipt["services"][0]["purposes"]} == {"Evaluation", "Bias audit"}


def test_it_writes_the_receipt_to_a_file(grant, subject, tmp_path):
    grant(subject)
    path = tmp_path / "receipt.json"
    out = io.StringIO()
    call_command("consent_receipt", "SUBJ-ADULT", out=str(path), stdout=out)
    assert out.getvalue() == f"Wrote {path}\n"
    assert json.loads(path.read_text(encoding="utf-8"))["piiPrincipalId"] == "SUBJ-ADULT"


def test_it_names_an_unknown_subject(db):
    with pytest.raises(CommandError) as refused:
        call_command("consent_receipt", "NOBODY")
    assert str(refused.value) == "no subject with reference 'NOBODY'"


def test_an_erased_subject_has_no_receipt(grant, erase, subject, tmp_path):
    grant(subject)
    erase(subject)
    path = tmp_path / "receipt.json"
    with pytest.raises(CommandError, match="no subject with reference 'SUBJ-ADULT'"):
        call_command("consent_receipt", "SUBJ-ADULT", out=str(path))
    assert not path.exists()
