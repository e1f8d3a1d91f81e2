import json
import uuid

import pytest

from consent.models import Subject
from consent.receipts import KANTARA_VERSION, PII_CATEGORIES, PURPOSE_CATEGORIES, SPECIAL_CATEGORIES, consent_receipt
from consent.rules.purposes import Purpose
from tests.conftest import at

PURPOSE_FIELDS = {
    "purpose", "purposeCategory", "consentType", "piiCategory", "primaryPurpose", "termination", "thirdPartyDisclosure",
}  # fmt: skip


def purposes_in(receipt):
    [service] = receipt["services"]
    return {entry["purpose"]: entry for entry in service["purposes"]}


@pytest.fixture
def receipt(grant, withdraw, subject):
    grant(
        subject,
        purposes=["evaluation", "bias_audit"],
        channel="in_app",
        collected_at=at(2025, 2),
        expires_at=at(2030, 1),
    )
    withdraw(subject, purposes=["bias_audit"], collected_at=at(2025, 3))
    return consent_receipt(subject, at=at(2025, 4))


def test_a_receipt_has_the_kantara_fields(receipt, notice, settings):
    assert receipt["version"] == KANTARA_VERSION == "KI-CR-v1.1.0"
    assert receipt["jurisdiction"] == "DE"
    assert receipt["consentTimestamp"] == int(at(2025, 2).timestamp())
    assert receipt["collectionMethod"] == "In-app"
    assert uuid.UUID(receipt["consentReceiptID"])
    assert receipt["language"] == "en"
    assert receipt["piiPrincipalId"] == "SUBJ-ADULT"
    [controller] = receipt["piiControllers"]
    assert controller["piiController"] == settings.ORGANISATION_NAME
    assert controller["contact"] == controller["email"] == settings.ORGANISATION_CONTACT
    assert receipt["policyUrl"] == settings.PRIVACY_POLICY_URL
    assert receipt["sensitive"] is True
    assert receipt["spiCat"] == SPECIAL_CATEGORIES


def test_each_purpose_has_the_kantara_fields(receipt):
    evaluation = purposes_in(receipt)["Evaluation"]
    assert set(evaluation) == PURPOSE_FIELDS
    assert evaluation == {
        "purpose": "Evaluation",
        "purposeCategory": [PURPOSE_CATEGORIES[Purpose.EVALUATION]],
        "consentType": "EXPLICIT",
        "piiCategory": PII_CATEGORIES,
        "primaryPurpose": True,
        "termination": "Expires 2030-01-01T00:00:00+00:00 or on withdrawal",
        "thirdPartyDisclosure": False,
    }


def test_only_active_purposes_are_listed(receipt):
    assert list(purposes_in(receipt)) == ["Evaluation"]


def test_an_expired_purpose_is_not_listed(grant, subject):
    grant(subject, purposes=["training"], collected_at=at(2025, 1), expires_at=at(2025, 2))
    grant(subject, purposes=["evaluation"], collected_at=at(2025, 1, 15))
    receipt = consent_receipt(subject, at=at(2025, 3))
    assert list(purposes_in(receipt)) == ["Evaluation"]
    assert purposes_in(receipt)["Evaluation"]["termination"] == "On withdrawal"


def test_a_receipt_after_full_withdrawal_lists_no_purpose(grant, withdraw, subject):
    grant(subject, collected_at=at(2025, 1))
    withdraw(subject, collected_at=at(2025, 2))
    receipt = consent_receipt(subject, at=at(2025, 3))
    assert purposes_in(receipt) == {}


def test_the_receipt_names_the_newest_grant_in_force(grant, subject):
    grant(subject, purposes=["evaluation"], collected_at=at(2025, 1), channel="paper_form")
    grant(subject, purposes=["training"], collected_at=at(2025, 5), channel="email")
    receipt = consent_receipt(subject, at=at(2025, 6))
    assert (receipt["consentTimestamp"], receipt["collectionMethod"]) == (int(at(2025, 5).timestamp()), "E-mail")
    assert set(purposes_in(receipt)) == {"Evaluation", "Training"}


def test_a_receipt_as_of_a_past_date_describes_the_grant_in_force_then(grant, subject):
    grant(subject, collected_at=at(2025, 2), expires_at=at(2026, 1), channel="web_form")
    grant(subject, collected_at=at(2025, 6), channel="email")  # a renewal, after the receipt's date
    receipt = consent_receipt(subject, at=at(2025, 3))
    assert (receipt["consentTimestamp"], receipt["collectionMethod"]) == (int(at(2025, 2).timestamp()), "Web form")
    assert purposes_in(receipt)["Evaluation"]["termination"] == "Expires 2026-01-01T00:00:00+00:00 or on withdrawal"
    assert [e["collectedAt"] for e in receipt["x-ledger"]["events"]] == [at(2025, 2).isoformat()]


def test_the_receipt_carries_the_ledger_evidence(receipt, notice, subject):
    ledger_part = receipt["x-ledger"]
    assert ledger_part["asOf"] == at(2025, 4).isoformat()
    assert ledger_part["notice"] == {"version": "1", "textHash": notice.text_hash}
    assert [(e["kind"], e["purposes"]) for e in ledger_part["events"]] == [
        ("grant", ["bias_audit", "evaluation"]), ("withdrawal", ["bias_audit"]),
    ]  # fmt: skip
    assert [e["hash"] for e in ledger_part["events"]] == list(subject.events.values_list("hash", flat=True))


def test_a_receipt_is_plain_json(receipt):
    assert json.loads(json.dumps(receipt)) == receipt


def test_the_controllers_address_is_given_when_configured(grant, subject, settings):
    settings.ORGANISATION_ADDRESS = "1 Rue de la Paix, Paris"
    grant(subject)
    assert consent_receipt(subject, at=at(2025, 4))["piiControllers"][0]["address"] == "1 Rue de la Paix, Paris"


def test_an_erased_subject_has_no_receipt(grant, erase, subject):
    grant(subject)
    erase(subject)
    with pytest.raises(ValueError, match="an erased subject has no receipt"):
        consent_receipt(Subject.objects.get(pk=subject.pk))
