from datetime import UTC, date, datetime

from consent.rules import events as rules
from consent.rules.purposes import Purpose

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ADULT = rules.SubjectFacts(jurisdiction="FR", birth_month=date(1980, 1, 1), erased=False)
CHILD = rules.SubjectFacts(jurisdiction="FR", birth_month=date(2013, 1, 1), erased=False)
NOTICE = rules.NoticeFacts(
    label="1/en", purposes=frozenset({"evaluation", "bias_audit"}), published_at=datetime(2024, 1, 1, tzinfo=UTC)
)


def grant(**overrides):
    values = {
        "kind": rules.GRANT,
        "purposes": (Purpose.EVALUATION,),
        "collected_at": datetime(2025, 1, 1, tzinfo=UTC),
        "notice": NOTICE,
    }
    return rules.ProposedEvent(**{**values, **overrides})


def check(event, subject=ADULT, history=()):
    return rules.check_event(event, subject=subject, history=list(history), now=NOW)


def test_it_accepts_a_valid_grant_and_records_the_age_table():
    verdict = check(grant())
    assert verdict.ok
    assert verdict.mask == Purpose.EVALUATION.bit
    assert verdict.age_rule_version == "eu-2024.1"


def test_it_refuses_a_grant_for_a_minor_without_a_guardian():
    verdict = check(grant(), subject=CHILD)
    assert [field for field, _ in verdict.problems] == ["guardian"]
    assert "a guardian's consent is required" in verdict.problems[0][1]
    assert "FR" in verdict.problems[0][1]


def test_it_accepts_a_minor_with_a_guardian():
    assert check(grant(guardian_reference="GUARD-1"), subject=CHILD).ok


def test_it_refuses_a_purpose_the_notice_does_not_offer():
    verdict = check(grant(purposes=(Purpose.PUBLICATION,)))
    assert verdict.problems == [("purposes", rules.PURPOSE_NOT_OFFERED.format(notice="1/en", purpose="publication"))]


def test_it_refuses_a_grant_collected_before_the_notice_existed():
    verdict = check(grant(collected_at=datetime(2023, 12, 31, tzinfo=UTC)))
    assert [field for field, _ in verdict.problems] == ["collected_at"]
    assert "before notice 1/en was published" in verdict.problems[0][1]


def test_it_refuses_a_date_in_the_future():
    verdict = check(grant(collected_at=datetime(2027, 1, 1, tzinfo=UTC)))
    assert ("collected_at", rules.IN_THE_FUTURE.format(when="2027-01-01T00:00:00+00:00")) in verdict.problems


def test_it_refuses_an_expiry_before_collection():
    verdict = check(grant(expires_at=datetime(2024, 6, 1, tzinfo=UTC)))
    assert [field for field, _ in verdict.problems] == ["expires_at"]


def test_it_refuses_a_withdrawal_before_any_grant():
    withdrawal = rules.ProposedEvent(kind=rules.WITHDRAWAL, purposes=(), collected_at=datetime(2025, 1, 1, tzinfo=UTC))
    verdict = check(withdrawal)
    assert verdict.problems == [
        ("collected_at", rules.WITHDRAWAL_BEFORE_GRANT.format(when="2025-01-01T00:00:00+00:00"))
    ]


def test_a_withdrawal_of_no_named_purpose_withdraws_all():
    history = [rules.PastEvent(datetime(2024, 6, 1, tzinfo=UTC), rules.GRANT, Purpose.EVALUATION.bit)]
    withdrawal = rules.ProposedEvent(kind=rules.WITHDRAWAL, purposes=(), collected_at=datetime(2025, 1, 1, tzinfo=UTC))
    verdict = check(withdrawal, history=history)
    assert verdict.ok
    assert verdict.mask == 15


def test_it_refuses_withdrawing_a_purpose_never_granted():
    history = [rules.PastEvent(datetime(2024, 6, 1, tzinfo=UTC), rules.GRANT, Purpose.EVALUATION.bit)]
    withdrawal = rules.ProposedEvent(
        kind=rules.WITHDRAWAL, purposes=(Purpose.TRAINING,), collected_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert [field for field, _ in check(withdrawal, history=history).problems] == ["purposes"]


def test_nothing_follows_an_erasure():
    history = [rules.PastEvent(datetime(2024, 6, 1, tzinfo=UTC), rules.ERASURE, 15)]
    assert check(grant(), history=history).problems == [("subject", rules.SUBJECT_ERASED)]


def test_it_refuses_a_malformed_evidence_hash():
    verdict = check(grant(evidence_hash="abc"))
    assert [field for field, _ in verdict.problems] == ["evidence_hash"]
