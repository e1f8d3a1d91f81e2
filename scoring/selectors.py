"""Reads of the scoring app; other apps read models, evaluation sets and scores through these."""

from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from consent.models import Subject
from consent.rules.purposes import Purpose
from consent.selectors import subjects_with_active_consent
from scoring.models import EvaluationSet, ScoreArtifact


def affected_members(evaluation_set: EvaluationSet, at: datetime | None = None) -> list[int]:
    """Item ids of members whose subject no longer consents to evaluation: the set is affected by them."""
    at = at or timezone.now()
    members = evaluation_set.members.values_list("item_id", "item__subject_id")
    subject_ids = {subject_id for _, subject_id in members}
    active = subjects_with_active_consent(Purpose.EVALUATION, at, subjects=Subject.objects.filter(pk__in=subject_ids))
    return sorted(item_id for item_id, subject_id in members if subject_id not in active)


def is_affected(evaluation_set: EvaluationSet, at: datetime | None = None) -> bool:
    return bool(affected_members(evaluation_set, at))


def scored_item_ids(artifact: ScoreArtifact) -> list[int]:
    """The items a score artifact holds a score for."""
    path = Path(settings.ARTIFACT_ROOT) / artifact.path
    return pq.read_table(path, columns=["item_id"]).column("item_id").to_pylist()


def member_provenance(evaluation_set: EvaluationSet) -> list[dict]:
    """Members by source: its name, licence, copyright status, and how many items came from it."""
    rows = (
        evaluation_set.members.values("item__source__name", "item__source__licence", "item__source__copyright_status")
        .annotate(items=Count("pk"))
        .order_by("item__source__name")
    )
    return [
        {"source": r["item__source__name"], "licence": r["item__source__licence"],
         "copyright_status": r["item__source__copyright_status"], "items": r["items"]}
        for r in rows
    ]  # fmt: skip
