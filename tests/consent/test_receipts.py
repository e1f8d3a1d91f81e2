import json

import pytest
from django.core.management import CommandError, call_command

from consent import services
from consent.receipts import KANTARA_VERSION, consent_receipt
from tests.conftest import at


def test_a_receipt_has_the_kantara_fields_and_only_active_purposes(actor, subject, notice, settings):
    services.grant_consent(
        actor=actor, subject=subject, purposes=["evaluation", "bias_audit"], notice=notice, channel="in_app",
        collected_at=at(2025, 2), expires_at=at(2030, 1),
    )  # fmt: skip
    services.withdraw_consent(
        actor=actor, subject=subject, channel="email", purposes=["bias_audit"], collected_at=at(2025, 3)
    )
    receipt = consent_receipt(subject, at=at(2025, 4))
    assert receipt["version"] == KANTARA_VERSION == "KI-CR-v1.1.0"
    assert receipt["jurisdiction"] == "DE"
    assert receipt["consentTimestamp"] == int(at(2025, 2).timestamp())
    assert receipt["collectionMethod"] == "In-app"
    assert receipt["language"] == "en"
    assert receipt["piiPrincipalId"] == "SUBJ-ADULT"
    assert receipt["piiControllers"][0]["piiController"] == settings.ORGANISATION_NAME
    assert receipt["policyUrl"] == settings.PRIVACY_POLICY_URL
    assert receipt["sensitive"] is True and receipt["spiCat"]
    [purpose] = receipt["services"][0]["purposes"]
    assert purpose["purpose"] == "Evaluation"
    assert set(purpose) >= {
        "purpose", "purposeCategory", "consentType", "piiCategory", "primaryPurpose", "termination",
        "thirdPartyDisclosure",
    }  # fmt: skip
    assert purpose["termination"].startswith("Expires 2030-01-01")
    assert [e["kind"] for e in receipt["x-ledger"]["events"]] == ["grant", "withdrawal"]
    assert receipt["x-ledger"]["notice"]["textHash"] == notice.text_hash


def test_the_command_writes_the_receipt(actor, subject, notice, tmp_path):
    services.grant_consent(
        actor=actor, subject=subject, purposes=["evaluation"], notice=notice, channel="web_form",
        collected_at=at(2025, 2),
    )  # fmt: skip
    out = tmp_path / "receipt.json"
    call_command("consent_receipt", "SUBJ-ADULT", out=str(out))
    assert json.loads(out.read_text())["piiPrincipalId"] == "SUBJ-ADULT"


def test_an_erased_subject_has_no_receipt(actor, subject, notice):
    services.erase_subject(actor=actor, subject=subject, channel="email", collected_at=at(2025, 2))
    subject.refresh_from_db()
    with pytest.raises(ValueError, match="erased"):
        consent_receipt(subject)
    with pytest.raises(CommandError, match="no subject"):
        call_command("consent_receipt", "SUBJ-ADULT")
