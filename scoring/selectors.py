"""Reads of the scoring app; other apps read models, evaluation sets and scores through these."""

import hashlib
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone

from consent.rules.purposes import Purpose
from consent.selectors import subjects_by_id, subjects_with_active_consent
from scoring.models import EvaluationSet, EvaluationSetMember, ModelVersion, ScoreArtifact


def evaluation_sets() -> QuerySet[EvaluationSet]:
    """Every evaluation set with its dataset, newest first."""
    return EvaluationSet.objects.select_related("dataset").order_by("-created_at", "-pk")


def frozen_evaluation_sets() -> QuerySet[EvaluationSet]:
    """The sets an audit can run on (frozen), with their dataset, the latest frozen first."""
    return (
        EvaluationSet.objects.filter(status=EvaluationSet.Status.FROZEN)
        .select_related("dataset")
        .order_by("-frozen_at", "-pk")
    )


def evaluation_set_by_name(name: str) -> EvaluationSet | None:
    return EvaluationSet.objects.select_related("dataset").filter(name=name).first()


def model_versions() -> QuerySet[ModelVersion]:
    """Every registered model version, by name, then newest first."""
    return ModelVersion.objects.order_by("name", "-created_at", "-pk")


def model_version_by_label(label: str) -> ModelVersion | None:
    """The model version written NAME:VERSION (e.g. "face-score:2026.4"); None if there is none."""
    name, separator, version = label.partition(":")
    if not separator or not name or not version:
        return None
    return ModelVersion.objects.filter(name=name, version=version).first()


def affected_members(evaluation_set: EvaluationSet, at: datetime | None = None) -> list[int]:
    """Item ids of members whose subject no longer consents to evaluation: the set is affected by them."""
    at = at or timezone.now()
    members = evaluation_set.members.values_list("item_id", "item__subject_id")
    subject_ids = {subject_id for _, subject_id in members}
    active = subjects_with_active_consent(Purpose.EVALUATION, at, subjects=subjects_by_id(subject_ids))
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


def affected_counts(evaluation_sets) -> dict[int, int]:
    """Per evaluation set (by pk): how many members' subjects no longer consent to evaluation (two queries).

    Only the given sets are read (a page of them, say): one row per (set, subject), with its member count.
    """
    pks = [s.pk for s in evaluation_sets]
    if not pks:
        return {}
    members = EvaluationSetMember.objects.filter(evaluation_set_id__in=pks)
    per_subject = members.values_list("evaluation_set_id", "item__subject_id").annotate(members=Count("pk")).order_by()
    subjects = subjects_by_id(members.values("item__subject_id"))
    active = subjects_with_active_consent(Purpose.EVALUATION, timezone.now(), subjects=subjects)
    counts = dict.fromkeys(pks, 0)
    for set_id, subject_id, count in per_subject:
        if subject_id not in active:
            counts[set_id] += count
    return counts


class ScoresChanged(Exception):
    """A score artifact's file no longer hashes to its recorded SHA-256."""


def score_batches(artifact: ScoreArtifact, *, batch_size: int = 10_000):
    """The artifact's rows (item_id, item_ref, stratum, score) as pyarrow record batches, after checking its hash.

    The hash is checked before the first batch is handed out, so a changed file yields nothing.
    """
    path = Path(settings.ARTIFACT_ROOT) / artifact.path
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != artifact.sha256:
        raise ScoresChanged(f"the scores file {artifact.path} no longer matches its recorded SHA-256")
    return pq.ParquetFile(path).iter_batches(batch_size=batch_size)
