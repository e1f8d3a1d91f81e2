import contextlib
import random
from datetime import timedelta

import pytest

from consent import selectors, services
from consent.errors import RuleViolation
from consent.models import DataItem, Subject
from consent.rules.purposes import Purpose
from core.audit_log import Actor
from core.models import AuditLogEntry
from tests.conftest import at

EVALUATION = Purpose.EVALUATION


def test_consent_is_active_only_between_grant_and_withdrawal(actor, subject, notice):
    services.grant_consent(
        actor=actor, subject=subject, purposes=["evaluation", "bias_audit"], notice=notice, channel="web_form",
        collected_at=at(2025, 1),
    )  # fmt: skip
    services.withdraw_consent(
        actor=actor, subject=subject, channel="web_form", purposes=["evaluation"], collected_at=at(2025, 6)
    )
    assert not selectors.is_consent_active(subject, EVALUATION, at(2024, 12))
    assert selectors.is_consent_active(subject, EVALUATION, at(2025, 1))
    assert not selectors.is_consent_active(subject, EVALUATION, at(2025, 7))
    assert selectors.is_consent_active(subject, Purpose.BIAS_AUDIT, at(2025, 7))
    state = selectors.consent_state(subject, at(2025, 3))
    assert state[EVALUATION].since == at(2025, 1)


def test_an_expired_grant_is_not_active(actor, subject, notice):
    services.grant_consent(
        actor=actor, subject=subject, purposes=["evaluation"], notice=notice, channel="web_form",
        collected_at=at(2025, 1), expires_at=at(2025, 3),
    )  # fmt: skip
    assert selectors.is_consent_active(subject, EVALUATION, at(2025, 2))
    assert not selectors.is_consent_active(subject, EVALUATION, at(2025, 3))


def test_a_new_grant_after_a_withdrawal_is_active(actor, subject, notice):
    for kind, month in (("grant", 1), ("withdrawal", 2), ("grant", 3)):
        if kind == "grant":
            services.grant_consent(
                actor=actor, subject=subject, purposes=["evaluation"], notice=notice, channel="in_app",
                collected_at=at(2025, month),
            )  # fmt: skip
        else:
            services.withdraw_consent(actor=actor, subject=subject, channel="in_app", collected_at=at(2025, month))
    assert not selectors.is_consent_active(subject, EVALUATION, at(2025, 2, 15))
    assert selectors.is_consent_active(subject, EVALUATION, at(2025, 3, 15))


def test_nothing_is_active_after_erasure(actor, subject, notice):
    services.grant_consent(
        actor=actor, subject=subject, purposes=["evaluation"], notice=notice, channel="in_app", collected_at=at(2025, 1)
    )
    services.erase_subject(actor=actor, subject=subject, channel="email", collected_at=at(2025, 2))
    assert not selectors.is_consent_active(subject, EVALUATION, at(2025, 3))
    assert selectors.subjects_with_active_consent(EVALUATION, at(2025, 3)) == set()


@pytest.fixture
def random_population(actor, make_subject, notice):
    rng = random.Random(42)
    subjects = [make_subject() for _ in range(120)]
    for subject in subjects:
        moment = at(2024, 2) + timedelta(days=rng.randint(0, 300))
        for _ in range(rng.randint(0, 4)):
            roll = rng.random()
            if roll < 0.55:
                services.grant_consent(
                    actor=actor, subject=subject, notice=notice, channel="web_form", collected_at=moment,
                    purposes=rng.sample(["training", "evaluation", "bias_audit"], rng.randint(1, 3)),
                    expires_at=moment + timedelta(days=rng.randint(10, 400)) if rng.random() < 0.3 else None,
                )  # fmt: skip
            elif roll < 0.95 and subject.events.exists():
                # Withdrawing a purpose never granted is refused, as it should be.
                with contextlib.suppress(RuleViolation):
                    services.withdraw_consent(
                        actor=actor, subject=subject, channel="email", collected_at=moment,
                        purposes=rng.sample(["evaluation", "bias_audit"], rng.randint(0, 1)),
                    )  # fmt: skip
            moment += timedelta(days=rng.randint(0, 90))
    return subjects


def test_the_bulk_check_agrees_with_the_per_subject_check(random_population):
    for moment in (at(2024, 1), at(2024, 6), at(2025, 1), at(2025, 6), at(2026, 6)):
        for purpose in (EVALUATION, Purpose.TRAINING):
            expected = {s.pk for s in random_population if selectors.is_consent_active(s, purpose, moment)}
            assert selectors.subjects_with_active_consent(purpose, moment) == expected


def test_the_bulk_check_can_be_narrowed_to_a_set_of_subjects(random_population):
    some = Subject.objects.filter(pk__in=[s.pk for s in random_population[::3]])
    everyone = selectors.subjects_with_active_consent(EVALUATION, at(2025, 6))
    narrowed = selectors.subjects_with_active_consent(EVALUATION, at(2025, 6), subjects=some)
    assert narrowed == everyone & set(some.values_list("pk", flat=True))


def test_the_bulk_check_is_one_query(random_population, django_assert_num_queries):
    with django_assert_num_queries(1):
        selectors.subjects_with_active_consent(EVALUATION, at(2025, 6), subjects=Subject.objects.all())


def test_item_attributes_need_the_permission_and_every_read_is_logged(actor, subject, dataset, django_user_model):
    source = dataset.sources.get(name="studio")
    item = DataItem.objects.create(
        dataset=dataset, item_ref="x", subject=subject, source=source, kind="tabular", attributes={"sex": "female"}
    )
    auditor = django_user_model.objects.create_user("auditor")
    with pytest.raises(PermissionError):
        selectors.item_attributes(actor=Actor.of_user(auditor), items=DataItem.objects.all())
    assert not AuditLogEntry.objects.filter(action="attributes.read").exists()

    steward = django_user_model.objects.create_user("steward")
    from django.contrib.auth.models import Group

    steward.groups.add(Group.objects.get(name="Data steward"))
    steward = django_user_model.objects.get(pk=steward.pk)
    values = selectors.item_attributes(actor=Actor.of_user(steward), items=DataItem.objects.all())
    assert values == {item.pk: {"sex": "female"}}
    entry = AuditLogEntry.objects.get(action="attributes.read")
    assert entry.actor == steward
    assert entry.after["item_ids"] == [item.pk]
