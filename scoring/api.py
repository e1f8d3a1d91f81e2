"""Evaluation sets and registered model versions, read-only: /api/v1/scoring/ (mounted by config/api.py)."""

from datetime import datetime
from enum import Enum

from django.http import Http404
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from core.api import LimitOffsetPages, allowed
from scoring import selectors
from scoring.models import EvaluationSet, ModelVersion

router = Router()

# Named after the model fields they describe, so that the OpenAPI document keeps one enum per field.
SetStatus = Enum("SetStatus", {value: value for value in EvaluationSet.Status.values}, type=str)
ModelKind = Enum("ModelKind", {value: value for value in ModelVersion.Kind.values}, type=str)

VIEW_SETS = "scoring.view_evaluationset"
VIEW_MODELS = "scoring.view_modelversion"


class SetDataset(Schema):
    id: int
    name: str
    version: str


class SetCounts(Schema):
    available: int = Field(description="items of the dataset (of the set's item kind) when the set was built")
    eligible: int = Field(description="items that could be drawn: consent active at the snapshot, provenance allowed")
    drawn: int = Field(description="members of the set")
    excluded: dict[str, int] = Field(description="items left out, by reason")


class EvaluationSetOut(Schema):
    """An evaluation set, read from the model (the resolvers below fill the fields it does not have as such)."""

    id: int
    name: str
    dataset: SetDataset
    item_kind: str = Field(description="tabular or image; blank for both")
    status: SetStatus
    frozen: bool
    manifest_sha256: str | None = Field(description="SHA-256 of the frozen membership; null until frozen")
    strata: list[str] = Field(description="the attributes (and bandings) the set is stratified by")
    snapshot_at: datetime = Field(description="consent was checked as of this time")
    created_at: datetime
    frozen_at: datetime | None
    counts: SetCounts

    @staticmethod
    def resolve_frozen(evaluation_set: EvaluationSet) -> bool:
        return evaluation_set.is_frozen

    @staticmethod
    def resolve_manifest_sha256(evaluation_set: EvaluationSet) -> str | None:
        return evaluation_set.manifest_sha256 or None

    @staticmethod
    def resolve_counts(evaluation_set: EvaluationSet) -> dict:
        report = evaluation_set.report
        return {key: report.get(key, 0) for key in ("available", "eligible", "drawn")} | {
            "excluded": report.get("excluded", {})
        }


class StratumOut(Schema):
    stratum: str
    available: int
    eligible: int
    drawn: int
    excluded: dict[str, int] = Field(description="items of the stratum left out, by reason")


class EvaluationSetDetail(EvaluationSetOut):
    allocation: dict = Field(description="per-stratum targets, or a total allocated proportionally with a minimum")
    seed: int
    excluded_copyright: list[str] = Field(description="copyright statuses whose items were never drawn")
    strata_report: list[StratumOut]

    @staticmethod
    def resolve_strata_report(evaluation_set: EvaluationSet) -> list[dict]:
        return evaluation_set.report.get("strata", [])


class ModelVersionOut(Schema):
    id: int
    name: str
    version: str
    kind: ModelKind
    architecture: str = Field(description="the trusted architecture's entry point; blank for precomputed scores")
    config: dict
    weights_sha256: str = Field(description="SHA-256 of the safetensors weights (or of the precomputed scores file)")
    description: str
    created_at: datetime


@router.get(
    "/evaluation-sets", auth=allowed(VIEW_SETS), response=list[EvaluationSetOut], summary="List evaluation sets"
)
@paginate(LimitOffsetPages)
def list_evaluation_sets(request, status: SetStatus | None = None):
    """Evaluation sets, newest first, with their manifest hash and how many items were available, eligible
    and drawn; `status=frozen` lists only the sets that can be audited. A page of `limit` sets (at most
    100) from `offset`; `count` is the number of sets in all."""
    sets = selectors.evaluation_sets()
    if status is not None:
        sets = sets.filter(status=status.value)
    return sets


@router.get(
    "/evaluation-sets/{set_id}",
    auth=allowed(VIEW_SETS),
    response=EvaluationSetDetail,
    summary="An evaluation set's strata report",
)
def evaluation_set_detail(request, set_id: int):
    """Per stratum: items available, eligible and drawn, and the items left out by reason."""
    evaluation_set = selectors.evaluation_sets().filter(pk=set_id).first()
    if evaluation_set is None:
        raise Http404(f"no evaluation set {set_id}")
    return evaluation_set


@router.get(
    "/models", auth=allowed(VIEW_MODELS), response=list[ModelVersionOut], summary="List registered model versions"
)
def list_models(request):
    """Every registered model version with the SHA-256 of its weights, by name then newest first."""
    return [
        {
            "id": m.pk,
            "name": m.name,
            "version": m.version,
            "kind": m.kind,
            "architecture": m.architecture,
            "config": m.config,
            "weights_sha256": m.artifact_sha256,
            "description": m.description,
            "created_at": m.created_at,
        }  # fmt: skip
        for m in selectors.model_versions()
    ]
