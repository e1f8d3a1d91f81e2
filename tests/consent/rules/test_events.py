from datetime import UTC, date, datetime

import pytest

from consent.rules import events as rules
from consent.rules.age_of_consent import guardian_requirement
from consent.rules.purposes import ALL_PURPOSES_MASK, Purpose

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ADULT = rules.SubjectFacts(jurisdiction="FR", birth_month=date(1980, 1, 1), erased=False)
CHILD = rules.SubjectFacts(jurisdiction="FR", birth_month=date(2013, 1, 1), erased=False)
NOTICE = rules.NoticeFacts(
    label="1/en", purposes=frozenset({"evaluation", "bias_audit"}), published_at=datetime(2024, 1, 1, tzinfo=UTC)
)
JAN_2025 = datetime(2025, 1, 1, tzinfo=UTC)
GRANTED_EVALUATION = rules.PastEvent(datetime(2024, 6, 1, tzinfo=UTC), rules.GRANT, Purpose.EVALUATION.bit)


def grant(**overrides):
    values = {"kind": rules.GRANT, "purposes": (Purpose.EVALUATION,), "collected_at": JAN_2025, "notice": NOTICE}
    return rules.ProposedEvent(**{**values, **overrides})


def withdrawal(*purposes, **overrides):
    values = {"kind": rules.WITHDRAWAL, "purposes": purposes, "collected_at": JAN_2025}
    return rules.ProposedEvent(**{**values, **overrides})


def check(event, subject=ADULT, history=()):
    return rules.check_event(event, subject=subject, history=list(history), now=NOW)


def test_it_accepts_a_valid_grant_and_records_the_age_table():
    verdict = check(grant(purposes=(Purpose.EVALUATION, Purpose.BIAS_AUDIT)))
    assert verdict.ok
    assert verdict.problems == []
    assert verdict.mask == Purpose.EVALUATION.bit | Purpose.BIAS_AUDIT.bit
    assert verdict.age_rule_version == "eu-2024.1"


def test_it_refuses_an_unknown_kind():
    verdict = check(grant(kind="gift"))
    assert verdict.problems == [("kind", rules.UNKNOWN_KIND.format(value="gift"))]


def test_it_refuses_a_grant_for_a_minor_without_a_guardian():
    verdict = check(grant(), subject=CHILD)
    reason = guardian_requirement(country="FR", birth=date(2013, 1, 1), collected_on=JAN_2025.date()).explain()
    assert verdict.problems == [("guardian", rules.GUARDIAN_REQUIRED.format(reason=reason))]
    assert "below the age of digital consent of 15 in FR" in verdict.problems[0][1]


def test_it_accepts_a_minor_with_a_guardian():
    assert check(grant(guardian_reference="GUARD-1"), subject=CHILD).ok


def test_it_applies_the_age_of_the_subjects_own_state():
    belgian = CHILD._replace(jurisdiction="BE")  # 11 at the time: still under Belgium's 13
    assert not check(grant(), subject=belgian).ok
    older_belgian = belgian._replace(birth_month=date(2011, 6, 1))  # 13 in January 2025
    assert check(grant(), subject=older_belgian).ok
    assert not check(grant(), subject=older_belgian._replace(jurisdiction="FR")).ok


def test_it_refuses_a_grant_without_purposes():
    verdict = check(grant(purposes=()))
    assert verdict.problems == [("purposes", rules.GRANT_WITHOUT_PURPOSES)]


def test_it_refuses_a_grant_without_a_notice():
    verdict = check(grant(notice=None))
    assert verdict.problems == [("notice_version", rules.GRANT_WITHOUT_NOTICE)]


def test_it_refuses_a_purpose_the_notice_does_not_offer():
    verdict = check(grant(purposes=(Purpose.EVALUATION, Purpose.PUBLICATION)))
    assert verdict.problems == [("purposes", rules.PURPOSE_NOT_OFFERED.format(notice="1/en", purpose="publication"))]


def test_it_refuses_a_grant_collected_before_the_notice_existed():
    collected = datetime(2023, 12, 31, 23, 59, tzinfo=UTC)
    verdict = check(grant(collected_at=collected))
    assert verdict.problems == [
        (
            "collected_at",
            rules.BEFORE_NOTICE.format(
                when="2023-12-31T23:59:00+00:00", notice="1/en", published="2024-01-01T00:00:00+00:00"
            ),
        )
    ]


def test_it_accepts_a_grant_collected_the_moment_the_notice_was_published():
    assert check(grant(collected_at=NOTICE.published_at)).ok


def test_it_refuses_a_date_in_the_future():
    verdict = check(grant(collected_at=datetime(2027, 1, 1, tzinfo=UTC)))
    assert verdict.problems == [("collected_at", rules.IN_THE_FUTURE.format(when="2027-01-01T00:00:00+00:00"))]


def test_it_refuses_a_withdrawal_in_the_future():
    verdict = check(withdrawal(collected_at=datetime(2027, 1, 1, tzinfo=UTC)), history=[GRANTED_EVALUATION])
    assert verdict.problems == [("collected_at", rules.IN_THE_FUTURE.format(when="2027-01-01T00:00:00+00:00"))]


@pytest.mark.parametrize("expires", [datetime(2024, 6, 1, tzinfo=UTC), JAN_2025])
def test_it_refuses_an_expiry_not_after_collection(expires):
    verdict = check(grant(expires_at=expires))
    assert verdict.problems == [
        (
            "expires_at",
            rules.EXPIRES_BEFORE_COLLECTED.format(expires=expires.isoformat(), collected=JAN_2025.isoformat()),
        )
    ]


@pytest.mark.parametrize("value", ["abc", "g" * 64, "A" * 64, "a" * 65])
def test_it_refuses_a_malformed_evidence_hash(value):
    verdict = check(grant(evidence_hash=value))
    assert verdict.problems == [("evidence_hash", rules.BAD_EVIDENCE_HASH.format(value=value))]


def test_it_accepts_a_sha256_evidence_hash():
    assert check(grant(evidence_hash="0123456789abcdef" * 4)).ok


def test_only_a_grant_carries_a_guardian():
    verdict = check(withdrawal(guardian_reference="GUARD-1"), history=[GRANTED_EVALUATION])
    assert verdict.problems == [("guardian", rules.GUARDIAN_NOT_EXPECTED)]


def test_it_refuses_a_withdrawal_before_any_grant():
    verdict = check(withdrawal())
    assert verdict.problems == [("collected_at", rules.WITHDRAWAL_BEFORE_GRANT.format(when=JAN_2025.isoformat()))]


def test_a_grant_that_comes_later_does_not_allow_an_earlier_withdrawal():
    later_grant = rules.PastEvent(datetime(2025, 2, 1, tzinfo=UTC), rules.GRANT, Purpose.EVALUATION.bit)
    verdict = check(withdrawal(), history=[later_grant])
    assert verdict.problems == [("collected_at", rules.WITHDRAWAL_BEFORE_GRANT.format(when=JAN_2025.isoformat()))]


def test_a_withdrawal_at_the_moment_of_the_grant_is_allowed():
    assert check(withdrawal(collected_at=GRANTED_EVALUATION.collected_at), history=[GRANTED_EVALUATION]).ok


def test_a_withdrawal_of_no_named_purpose_withdraws_all():
    verdict = check(withdrawal(), history=[GRANTED_EVALUATION])
    assert verdict.ok
    assert verdict.mask == ALL_PURPOSES_MASK
    assert verdict.age_rule_version == ""


def test_a_withdrawal_of_named_purposes_covers_only_those():
    history = [GRANTED_EVALUATION._replace(mask=Purpose.EVALUATION.bit | Purpose.BIAS_AUDIT.bit)]
    verdict = check(withdrawal(Purpose.BIAS_AUDIT), history=history)
    assert verdict.ok
    assert verdict.mask == Purpose.BIAS_AUDIT.bit


def test_it_refuses_withdrawing_a_purpose_never_granted():
    verdict = check(withdrawal(Purpose.EVALUATION, Purpose.TRAINING), history=[GRANTED_EVALUATION])
    assert verdict.problems == [
        ("purposes", rules.PURPOSE_NEVER_GRANTED.format(purpose="training", when=JAN_2025.isoformat()))
    ]


def test_an_erasure_covers_every_purpose_and_needs_no_grant():
    verdict = check(rules.ProposedEvent(kind=rules.ERASURE, purposes=(), collected_at=JAN_2025))
    assert verdict.ok
    assert verdict.mask == ALL_PURPOSES_MASK
    assert verdict.age_rule_version == ""


def test_nothing_follows_an_erasure_in_the_history():
    history = [rules.PastEvent(datetime(2024, 6, 1, tzinfo=UTC), rules.ERASURE, ALL_PURPOSES_MASK)]
    assert check(grant(), history=history).problems == [("subject", rules.SUBJECT_ERASED)]
    assert check(withdrawal(), history=history).problems == [("subject", rules.SUBJECT_ERASED)]


def test_nothing_can_be_recorded_for_an_erased_subject():
    erased = ADULT._replace(erased=True)
    assert check(grant(), subject=erased).problems == [("subject", rules.SUBJECT_ERASED)]


def test_it_reports_every_problem_of_an_event_at_once():
    verdict = check(
        grant(
            collected_at=datetime(2027, 1, 1, tzinfo=UTC),
            purposes=(Purpose.PUBLICATION,),
            evidence_hash="xyz",
            expires_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        subject=CHILD,
    )
    assert [field for field, _ in verdict.problems] == [
        "collected_at", "evidence_hash", "purposes", "expires_at", "guardian",
    ]  # fmt: skip
