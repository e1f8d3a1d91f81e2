"""Consent receipts in the Kantara Initiative Consent Receipt Specification v1.1 format.

A receipt states, for one subject, what they consented to: which purposes, under which
notice, by which channel and when, and who the controller is. Fields of the spec that
do not apply here (public key, third-party names) are left out, as the spec allows for
optional fields; `x-ledger` extends it with the ledger events that prove the receipt.
"""

import uuid

from django.conf import settings
from django.utils import timezone

from consent.models import ConsentEvent, EventKind, Subject
from consent.rules.purposes import Purpose
from consent.selectors import consent_state

KANTARA_VERSION = "KI-CR-v1.1.0"

PURPOSE_CATEGORIES = {
    Purpose.TRAINING: "Research and development of the scoring model",
    Purpose.EVALUATION: "Evaluation of the scoring model's accuracy",
    Purpose.BIAS_AUDIT: "Bias examination under AI Act Art. 10",
    Purpose.PUBLICATION: "Publication of aggregate audit results",
}
PII_CATEGORIES = ["Biographical (year and month of birth)", "Biometric or image data", "Protected characteristics"]
SPECIAL_CATEGORIES = ["Racial or ethnic origin (skin tone)", "Biometric data"]


def consent_receipt(subject: Subject, *, at=None) -> dict:
    """The subject's receipt as of `at` (default now): one purpose entry per purpose granted and in force."""
    if subject.is_erased:
        raise ValueError("an erased subject has no receipt: their personal data is gone")
    at = at or timezone.now()
    state = consent_state(subject, at)
    active = [purpose for purpose, purpose_state in state.items() if purpose_state.active]
    events = list(subject.events.filter(collected_at__lte=at).select_related("notice").order_by("sequence"))
    latest_grant = _latest_grant(events, active)
    purposes = []
    for purpose in active:
        grant = latest_grant[purpose]
        purposes.append(
            {
                "purpose": purpose.label,
                "purposeCategory": [PURPOSE_CATEGORIES[purpose]],
                "consentType": "EXPLICIT",
                "piiCategory": PII_CATEGORIES,
                "primaryPurpose": purpose in (Purpose.EVALUATION, Purpose.BIAS_AUDIT),
                "termination": (
                    f"Expires {grant.expires_at.isoformat()} or on withdrawal" if grant.expires_at else "On withdrawal"
                ),
                "thirdPartyDisclosure": False,
            }
        )
    newest = max((latest_grant[p] for p in active), key=lambda e: (e.collected_at, e.sequence), default=None)
    controller = {
        "piiController": settings.ORGANISATION_NAME,
        "contact": settings.ORGANISATION_CONTACT,
        "email": settings.ORGANISATION_CONTACT,
    }
    if settings.ORGANISATION_ADDRESS:
        controller["address"] = settings.ORGANISATION_ADDRESS
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": subject.jurisdiction,
        "consentTimestamp": int(newest.collected_at.timestamp()) if newest else None,
        "collectionMethod": newest.get_channel_display() if newest else None,
        "consentReceiptID": str(uuid.uuid4()),
        "language": newest.notice.language if newest and newest.notice else None,
        "piiPrincipalId": subject.reference,
        "piiControllers": [controller],
        "policyUrl": settings.PRIVACY_POLICY_URL,
        "services": [{"service": "Bias audits of scoring models", "purposes": purposes}],
        "sensitive": True,
        "spiCat": SPECIAL_CATEGORIES,
        "x-ledger": {
            "asOf": at.isoformat(),
            "notice": (
                {"version": newest.notice.version, "textHash": newest.notice.text_hash}
                if newest and newest.notice
                else None
            ),
            "events": [
                {
                    "sequence": e.sequence,
                    "eventId": e.event_id,
                    "kind": e.kind,
                    "purposes": e.purposes,
                    "collectedAt": e.collected_at.isoformat(),
                    "hash": e.hash,
                }
                for e in events
            ],
        },
    }


def _latest_grant(events: list[ConsentEvent], purposes) -> dict[Purpose, ConsentEvent]:
    latest = {}
    for event in sorted(events, key=lambda e: (e.collected_at, e.sequence)):
        if event.kind == EventKind.GRANT:
            for purpose in purposes:
                if event.purpose_mask & purpose.bit:
                    latest[purpose] = event
    return latest
