"""Reads of the scoring app; other apps read models, evaluation sets and scores through these."""

from datetime import datetime

from django.utils import timezone

from consent.models import Subject
from consent.rules.purposes import Purpose
from consent.selectors import subjects_with_active_consent
from scoring.models import EvaluationSet


def affected_members(evaluation_set: EvaluationSet, at: datetime | None = None) -> list[int]:
    """Item ids of members whose subject no longer consents to evaluation: the set is affected by them."""
    at = at or timezone.now()
    members = evaluation_set.members.values_list("item_id", "item__subject_id")
    subject_ids = {subject_id for _, subject_id in members}
    active = subjects_with_active_consent(Purpose.EVALUATION, at, subjects=Subject.objects.filter(pk__in=subject_ids))
    return sorted(item_id for item_id, subject_id in members if subject_id not in active)


def is_affected(evaluation_set: EvaluationSet, at: datetime | None = None) -> bool:
    return bool(affected_members(evaluation_set, at))
