import random
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group, Permission

from consent import selectors
from consent.errors import RuleViolation
from consent.models import DataItem, Subject
from consent.rules.purposes import Purpose
from core.audit_log import Actor
from core.models import AuditLogEntry
from tests.conftest import at

EVALUATION, BIAS_AUDIT, TRAINING = Purpose.EVALUATION, Purpose.BIAS_AUDIT, Purpose.TRAINING


def active(subject, purpose, moment):
    return selectors.is_consent_active(subject, purpose, moment)


# One subject over time -----------------------------------------------------------------------


def test_nothing_is_active_before_the_grant(grant, subject):
    grant(subject, collected_at=at(2025, 3))
    assert not active(subject, EVALUATION, at(2025, 2, 28, 23))
    state = selectors.consent_state(subject, at(2025, 2))
    assert state[EVALUATION] == selectors.PurposeState(
        purpose=EVALUATION, active=False, since=None, expires_at=None, last_event_id=None
    )


def test_consent_is_active_from_the_moment_of_the_grant(grant, subject):
    event = grant(subject, collected_at=at(2025, 3), event_id="g-1")
    assert active(subject, EVALUATION, at(2025, 3))
    assert active(subject, EVALUATION, at(2030, 1))
    state = selectors.consent_state(subject, at(2025, 4))
    assert state[EVALUATION] == selectors.PurposeState(
        purpose=EVALUATION, active=True, since=at(2025, 3), expires_at=None, last_event_id=event.event_id
    )


def test_only_the_granted_purposes_are_active(grant, subject):
    grant(subject, purposes=["evaluation", "bias_audit"])
    state = selectors.consent_state(subject, at(2025, 4))
    assert {purpose for purpose, s in state.items() if s.active} == {EVALUATION, BIAS_AUDIT}


def test_a_grant_is_not_active_from_its_expiry_on(grant, subject):
    grant(subject, collected_at=at(2025, 1), expires_at=at(2025, 3))
    assert active(subject, EVALUATION, at(2025, 2))
    assert selectors.consent_state(subject, at(2025, 2))[EVALUATION].expires_at == at(2025, 3)
    assert not active(subject, EVALUATION, at(2025, 3))
    assert not active(subject, EVALUATION, at(2025, 4))
    assert selectors.subjects_with_active_consent(EVALUATION, at(2025, 3)) == set()


def test_a_partial_withdrawal_leaves_the_other_purposes_active(grant, withdraw, subject):
    grant(subject, purposes=["evaluation", "bias_audit"], collected_at=at(2025, 1))
    withdraw(subject, purposes=["evaluation"], collected_at=at(2025, 6), event_id="w-1")
    assert active(subject, EVALUATION, at(2025, 5))
    assert not active(subject, EVALUATION, at(2025, 6))
    assert active(subject, BIAS_AUDIT, at(2025, 7))
    state = selectors.consent_state(subject, at(2025, 7))
    assert (state[EVALUATION].active, state[EVALUATION].last_event_id) == (False, "w-1")
    assert state[BIAS_AUDIT].since == at(2025, 1)


def test_a_full_withdrawal_ends_every_purpose(grant, withdraw, subject):
    grant(subject, purposes=["evaluation", "bias_audit"], collected_at=at(2025, 1))
    withdraw(subject, collected_at=at(2025, 6))
    state = selectors.consent_state(subject, at(2025, 7))
    assert not any(s.active for s in state.values())


def test_a_new_grant_after_a_withdrawal_is_active(grant, withdraw, subject):
    grant(subject, collected_at=at(2025, 1))
    withdraw(subject, collected_at=at(2025, 2))
    grant(subject, collected_at=at(2025, 3), channel="in_app")
    assert active(subject, EVALUATION, at(2025, 1, 15))
    assert not active(subject, EVALUATION, at(2025, 2, 15))
    assert active(subject, EVALUATION, at(2025, 3, 15))
    assert selectors.consent_state(subject, at(2025, 3, 15))[EVALUATION].since == at(2025, 3)


def test_the_later_grant_decides_even_when_it_expires_sooner(grant, subject):
    grant(subject, collected_at=at(2025, 1))
    grant(subject, collected_at=at(2025, 2), expires_at=at(2025, 4))
    assert active(subject, EVALUATION, at(2025, 3))
    assert not active(subject, EVALUATION, at(2025, 5))


def test_events_apply_in_the_order_they_were_collected_not_recorded(grant, withdraw, subject):
    grant(subject, collected_at=at(2025, 1))
    withdraw(subject, collected_at=at(2025, 6))
    grant(subject, collected_at=at(2025, 3), channel="paper_form")  # a paper form entered late
    assert active(subject, EVALUATION, at(2025, 2, 15))
    assert active(subject, EVALUATION, at(2025, 4))
    assert not active(subject, EVALUATION, at(2025, 7))
    assert selectors.subjects_with_active_consent(EVALUATION, at(2025, 7)) == set()


def test_events_collected_at_the_same_moment_apply_in_recording_order(grant, withdraw, subject):
    grant(subject, collected_at=at(2025, 1))
    withdraw(subject, collected_at=at(2025, 2))
    grant(subject, collected_at=at(2025, 2), channel="in_app")
    assert active(subject, EVALUATION, at(2025, 2))
    assert selectors.subjects_with_active_consent(EVALUATION, at(2025, 2)) == {subject.pk}


def test_nothing_is_active_after_erasure(grant, erase, subject):
    grant(subject, collected_at=at(2025, 1), purposes=["evaluation", "bias_audit"])
    erase(subject, collected_at=at(2025, 2))
    erased = Subject.objects.get(pk=subject.pk)
    assert active(erased, EVALUATION, at(2025, 1, 15))
    assert not any(s.active for s in selectors.consent_state(erased, at(2025, 3)).values())
    assert selectors.subjects_with_active_consent(EVALUATION, at(2025, 3)) == set()


# The bulk check against the per-subject check --------------------------------------------------

OFFERED = ["training", "evaluation", "bias_audit"]  # the notice fixture's purposes
FIRST, LAST = at(2024, 1, 2), at(2025, 12, 31)


def random_moment(rng):
    seconds = rng.randrange(int((LAST - FIRST).total_seconds()))
    return FIRST + timedelta(seconds=seconds, microseconds=rng.choice([0, rng.randrange(1_000_000)]))


@pytest.fixture
def population(grant, withdraw, erase, make_subject):
    """About 200 subjects with random histories, recorded through the services in random time order."""
    rng = random.Random(20261124)
    subjects, moments, expiries, refused = [], [], [], 0
    for number in range(200):
        minor = rng.random() < 0.15
        subject = make_subject(
            f"P-{number:03d}",
            jurisdiction=rng.choice(["DE", "FR", "BE", "AT", "IE"]),
            birth_month=date(rng.randint(2010, 2013), rng.randint(1, 12), 1)
            if minor
            else date(rng.randint(1940, 2005), rng.randint(1, 12), 1),
        )
        subjects.append(subject)
        own_moments = []
        for _ in range(rng.randint(0, 6)):
            # Mostly a new random moment (so events arrive out of time order); sometimes an earlier one again.
            moment = rng.choice(own_moments) if own_moments and rng.random() < 0.15 else random_moment(rng)
            own_moments.append(moment)
            roll = rng.random()
            try:
                if roll < 0.5:
                    expires = moment + timedelta(days=rng.randint(1, 500)) if rng.random() < 0.3 else None
                    grant(
                        subject, collected_at=moment, expires_at=expires, channel="web_form",
                        purposes=rng.sample(OFFERED, rng.randint(1, 3)),
                        guardian_reference="GUARD" if minor and rng.random() < 0.7 else "",
                    )  # fmt: skip
                    if expires:
                        expiries.append(expires)
                elif roll < 0.93:
                    withdraw(subject, collected_at=moment, purposes=rng.sample(OFFERED, rng.randint(0, 2)))
                else:
                    erase(subject, collected_at=moment)
            except RuleViolation:
                refused += 1  # a minor without a guardian, a withdrawal before its grant, anything after erasure
        moments.extend(own_moments)
    return subjects, moments, expiries, refused


def test_the_bulk_check_returns_exactly_the_subjects_the_per_subject_check_finds(population):
    subjects, moments, expiries, refused = population
    rng = random.Random(7)
    times = [at(2023, 6), at(2024, 6), at(2025, 1), at(2025, 6, 15, 12), at(2026, 1), at(2027, 6)]
    times += rng.sample(moments, 3) + rng.sample(expiries, 3)  # exactly at a collection or an expiry instant
    narrowed = {
        "French subjects": Subject.objects.filter(jurisdiction="FR"),
        "born before 1980": Subject.objects.filter(birth_month__lt=date(1980, 1, 1)),
        "every third subject": Subject.objects.filter(pk__in=[s.pk for s in subjects[::3]]),
    }
    members = {name: set(queryset.values_list("pk", flat=True)) for name, queryset in narrowed.items()}
    seen_active = set()
    for moment in times:
        # consent_state answers is_consent_active for every purpose with one query per subject.
        states = {s.pk: selectors.consent_state(s, moment) for s in subjects}
        for purpose in Purpose:
            expected = {pk for pk, state in states.items() if state[purpose].active}
            if purpose is EVALUATION:
                assert expected == {s.pk for s in subjects if active(s, purpose, moment)}
            assert selectors.subjects_with_active_consent(purpose, moment) == expected, (purpose, moment)
            for name, queryset in narrowed.items():
                assert selectors.subjects_with_active_consent(purpose, moment, subjects=queryset) == (
                    expected & members[name]
                ), (purpose, moment, name)
            seen_active |= expected
    # The population is varied enough for the comparison to mean something.
    assert len(seen_active) > 80
    assert refused > 20
    assert Subject.objects.filter(erased_at__isnull=False).count() > 3


def test_the_bulk_check_of_an_empty_set_of_subjects_is_empty(grant, subject):
    grant(subject)
    assert selectors.subjects_with_active_consent(EVALUATION, at(2025, 4), subjects=Subject.objects.none()) == set()


def test_the_bulk_check_is_one_query(grant, make_subject, django_assert_num_queries):
    for _ in range(5):
        grant(make_subject())
    with django_assert_num_queries(1):
        found = selectors.subjects_with_active_consent(EVALUATION, at(2025, 6), subjects=Subject.objects.all())
    assert len(found) == 5


def test_it_finds_a_subject_by_reference(subject):
    assert selectors.subject_by_reference("SUBJ-ADULT") == subject
    assert selectors.subject_by_reference("NOBODY") is None


# Item-level protected attributes ---------------------------------------------------------------


@pytest.fixture
def item(subject, dataset):
    return DataItem.objects.create(
        dataset=dataset, item_ref="x", subject=subject, source=dataset.sources.get(name="studio"), kind="tabular",
        attributes={"skin_tone": "8", "sex": "female"},
    )  # fmt: skip


def test_item_attributes_refuse_a_user_without_the_permission(item, django_user_model):
    auditor = django_user_model.objects.create_user("auditor")
    auditor.groups.add(Group.objects.get(name="Auditor"))
    with pytest.raises(PermissionError, match="view_protected_attributes"):
        selectors.item_attributes(actor=Actor.of_user(auditor), items=DataItem.objects.all())
    assert not AuditLogEntry.objects.filter(action="attributes.read").exists()


def test_item_attributes_are_given_to_a_permitted_user_and_the_read_is_logged(item, django_user_model):
    officer = django_user_model.objects.create_user("officer")
    officer.user_permissions.add(Permission.objects.get(codename="view_protected_attributes"))
    officer = django_user_model.objects.get(pk=officer.pk)
    values = selectors.item_attributes(actor=Actor.of_user(officer), items=DataItem.objects.all())
    assert values == {item.pk: {"skin_tone": "8", "sex": "female"}}
    entry = AuditLogEntry.objects.get(action="attributes.read")
    assert (entry.actor, entry.actor_label) == (officer, "user:officer")
    assert entry.after == {"item_ids": [item.pk], "count": 1}
    assert "female" not in str(entry.after)


def test_every_read_of_item_attributes_is_logged(item, actor):
    selectors.item_attributes(actor=actor, items=DataItem.objects.all())
    selectors.item_attributes(actor=actor, items=DataItem.objects.none())
    assert [e.after["count"] for e in AuditLogEntry.objects.filter(action="attributes.read").order_by("id")] == [1, 0]
