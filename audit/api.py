"""Audit policies (define, list) and audit runs (start, follow, cancel, results and evidence): /api/v1/audit/
(mounted by config/api.py)."""

from datetime import datetime
from enum import Enum

import orjson
from django.http import Http404, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import Status

from audit import services
from audit.fairness import AuditInputError
from audit.fairness.results import Gap, Section
from audit.fairness.spec import FOUR_FIFTHS, HEADLINE
from audit.models import PERIOD, AuditPolicy, AuditRun, GapResult, GroupResult, IllegalTransition, Verdict
from audit.selectors import findings_of
from consent.errors import RuleViolation
from core.api import FieldError, LimitOffsetPages, allowed
from core.audit_log import Actor
from scoring.models import EvaluationSet, ModelVersion
from scoring.selectors import evaluation_set_by_name, model_version_by_label

router = Router()

# Named after the model they describe, so that the OpenAPI document keeps one enum per status field.
RunStatus = Enum("RunStatus", {value: value for value in AuditRun.Status.values}, type=str)
RunVerdictValue = Enum("RunVerdictValue", {value: value for value in Verdict.values}, type=str)

VIEW_RUNS = "audit.view_auditrun"
VIEW_RESULTS = (VIEW_RUNS, "audit.view_groupresult", "audit.view_gapresult")
START_RUNS = "audit.start_audit_run"


# Policies --------------------------------------------------------------------------------------

VIEW_POLICIES = "audit.view_auditpolicy"
DEFINE_POLICIES = "audit.define_policy"


class PolicyAttribute(Schema):
    attribute: str = Field(examples=["skin_tone"])
    banding: str | None = Field(None, description="a banding of the attribute's schema", examples=["monk_3"])
    reference: str | None = Field(None, description="the group others are compared with; default the largest")


class PolicyIn(Schema):
    name: str = Field(description="a name in use gets its next version; a version never changes")
    attributes: list[PolicyAttribute]
    metrics: list[str] = Field(
        ["mean_score_gap"], description="gaps and ratios judged; the mean score gap always is. Registry items carry "
        "no ground truth, so the metrics that need labels or targets are refused"
    )  # fmt: skip
    threshold: float = Field(0.05, description="provider-chosen: the largest acceptable gap (difference)")
    ratio_threshold: float = Field(
        FOUR_FIFTHS, description="the lowest acceptable ratio (lowest group over highest); 0.8 is the four-fifths rule"
    )
    confidence: float = 0.95
    replicates: int = Field(1000, description="bootstrap replicates")
    seed: int = 0
    min_group_size: int = 30
    decision_threshold: float = Field(0.5, description="a score at or over it counts as selected")
    intersections: bool = True
    description: str = ""
    check_against: str | None = Field(None, description="an evaluation set whose attributes the policy must fit")


class PolicyOut(Schema):
    id: int
    name: str
    version: int
    attributes: list[PolicyAttribute]
    metrics: list[str]
    threshold: float
    ratio_threshold: float
    confidence: float
    replicates: int
    seed: int
    min_group_size: int
    decision_threshold: float
    intersections: bool
    description: str
    created_at: datetime


@router.get("/policies", auth=allowed(VIEW_POLICIES), response=list[PolicyOut], summary="List audit policies")
def list_policies(request, name: str | None = Query(None, description="one policy's versions")):
    """Every version of every policy, by name, newest version first."""
    policies = AuditPolicy.objects.order_by("name", "-version")
    return policies.filter(name=name) if name else policies


@router.post(
    "/policies", auth=allowed(DEFINE_POLICIES), response={201: PolicyOut}, summary="Define an audit policy version"
)
def define_policy(request, payload: PolicyIn):
    """Define the next version of the policy `name` (version 1 of a new name). Compliance officers only."""
    evaluation_set = None
    if payload.check_against:
        evaluation_set = evaluation_set_by_name(payload.check_against)
        if evaluation_set is None:
            raise FieldError("check_against", f"no evaluation set {payload.check_against!r}")
    arguments = payload.model_dump(exclude={"check_against"})
    try:
        policy = services.define_policy(actor=Actor.of_user(request.user), evaluation_set=evaluation_set, **arguments)
    except AuditInputError as exc:
        raise RuleViolation(exc.problems) from None
    return Status(201, policy)


# Runs ------------------------------------------------------------------------------------------


class StartRunIn(Schema):
    model: str = Field(description="the model version as NAME:VERSION", examples=["demo-tabular-mlp:1"])
    evaluation_set: str = Field(description="the name of a frozen evaluation set")
    policy: str = Field(description="NAME (its latest version) or NAME:VERSION")
    period: str = Field(description="the reporting quarter", examples=["2026-Q4"])


class RunModel(Schema):
    name: str
    version: str
    weights_sha256: str


class RunEvaluationSet(Schema):
    id: int
    name: str
    manifest_sha256: str


class RunPolicy(Schema):
    name: str
    version: int


class RunOut(Schema):
    """An audit run, read from the model (the resolvers below fill the fields it does not have as such)."""

    id: int
    model: RunModel
    evaluation_set: RunEvaluationSet
    policy: RunPolicy
    period: str
    status: RunStatus
    stage: str = Field(description="what the worker is doing now")
    progress: float = Field(description="0 to 1")
    reason: str = Field(description="why the run failed (the error) or was cancelled; blank otherwise")
    attempts: int
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    excluded: dict[str, int] = Field(description="members not audited, by reason (e.g. consent withdrawn since)")
    evidence_sha256: str | None = Field(description="SHA-256 of the stored evidence; null until the run succeeds")
    verdict: RunVerdictValue | None = Field(
        description="the audit's own verdict: fail if any judged gap or ratio fails, pass only if every judged one "
        "passes, inconclusive otherwise; null until the run succeeds"
    )

    @staticmethod
    def resolve_model(run: AuditRun) -> dict:
        return _model_out(run.model_version)

    @staticmethod
    def resolve_evaluation_set(run: AuditRun) -> dict:
        return _evaluation_set_out(run.evaluation_set)

    @staticmethod
    def resolve_created_by(run: AuditRun) -> str | None:
        return run.created_by.get_username() if run.created_by else None

    @staticmethod
    def resolve_excluded(run: AuditRun) -> dict:
        return run.excluded or {}

    @staticmethod
    def resolve_evidence_sha256(run: AuditRun) -> str | None:
        return run.evidence_sha256 or None

    @staticmethod
    def resolve_verdict(run: AuditRun) -> str | None:
        return run.verdict or None


def _model_out(model: ModelVersion) -> dict:
    return {"name": model.name, "version": model.version, "weights_sha256": model.artifact_sha256}


def _evaluation_set_out(evaluation_set: EvaluationSet) -> dict:
    return {"id": evaluation_set.pk, "name": evaluation_set.name, "manifest_sha256": evaluation_set.manifest_sha256}


def _runs(*, with_evidence: bool = False):
    """Runs with what RunOut shows; the evidence JSON (large) only where results or evidence are returned."""
    runs = AuditRun.objects.select_related("model_version", "evaluation_set", "policy", "created_by")
    return runs if with_evidence else runs.defer("evidence")


def _run(run_id: int, *, with_evidence: bool = False) -> AuditRun:
    run = _runs(with_evidence=with_evidence).filter(pk=run_id).first()
    if run is None:
        raise Http404(f"no audit run {run_id}")
    return run


def _model(text: str) -> ModelVersion:
    model = model_version_by_label(text)
    if model is None:
        raise FieldError("model", f"no model version {text!r}; write NAME:VERSION of a registered model")
    return model


def _evaluation_set(name: str) -> EvaluationSet:
    evaluation_set = evaluation_set_by_name(name)
    if evaluation_set is None:
        raise FieldError("evaluation_set", f"no evaluation set {name!r}")
    return evaluation_set


def _policy(text: str) -> AuditPolicy:
    name, _, version = text.partition(":")
    policies = AuditPolicy.objects.filter(name=name)
    if version:
        number = int(version) if version.isascii() and version.isdecimal() else None  # isdigit() lets "²" through
        policies = policies.filter(version=number) if number is not None else policies.none()
    policy = policies.order_by("-version").first()
    if policy is None:
        raise FieldError("policy", f"no audit policy {text!r}; write NAME or NAME:VERSION")
    return policy


@router.post("/runs", auth=allowed(START_RUNS), response={202: RunOut}, summary="Start an audit run")
def start_run(request, payload: StartRunIn):
    """Queue a run of the model on the frozen evaluation set under the policy, for the quarter; a worker
    executes it. Follow it with GET /runs/{id}. Compliance officers only."""
    run = services.start_audit_run(
        actor=Actor.of_user(request.user), model=_model(payload.model),
        evaluation_set=_evaluation_set(payload.evaluation_set), policy=_policy(payload.policy), period=payload.period,
    )  # fmt: skip
    return _run(run.pk)  # 202: the only status declared


@router.get("/runs", auth=allowed(VIEW_RUNS), response=list[RunOut], summary="List audit runs")
@paginate(LimitOffsetPages)
def list_runs(
    request,
    period: str | None = Query(None, pattern=PERIOD.pattern, description="a reporting quarter, e.g. 2026-Q4"),
    status: RunStatus | None = None,
    model: str | None = Query(None, description="a model name"),
):
    """Audit runs, newest first, optionally of one quarter, status or model. A page of `limit` runs (at most
    100) from `offset`; `count` is the number of runs in all."""
    runs = _runs().order_by("-created_at", "-pk")
    if period:
        runs = runs.filter(period=period)
    if status:
        runs = runs.filter(status=status.value)
    if model:
        runs = runs.filter(model_version__name=model)
    return runs


@router.get("/runs/{run_id}", auth=allowed(VIEW_RUNS), response=RunOut, summary="An audit run's status and progress")
def run_detail(request, run_id: int):
    """Poll this to follow a run; its results and evidence have endpoints of their own."""
    return _run(run_id)


@router.post(
    "/runs/{run_id}/cancel", auth=allowed(START_RUNS), response=RunOut, summary="Cancel a queued or running audit run"
)
def cancel_run(request, run_id: int):
    """A queued run never starts; a running one stops at its next step and stores nothing."""
    run = _run(run_id)
    try:
        services.cancel_audit_run(actor=Actor.of_user(request.user), run=run, reason="cancelled through the API")
    except IllegalTransition:
        status = _run(run.pk).status
        raise HttpError(409, f"audit run {run.pk} is {status}; only queued or running runs can be cancelled") from None
    return _run(run.pk)


# Results ---------------------------------------------------------------------------------------


class Interval(Schema):
    low: float | None
    high: float | None


class GroupOut(Schema):
    group: str
    n: int
    sufficient: bool = Field(description="false: under the policy's minimum group size, reported but not judged")
    mean_score: float | None
    mean_score_ci: Interval
    selection_rate: float | None = Field(description="share of scores at or over the decision threshold")
    selection_rate_ci: Interval | None


class GapOut(Schema):
    metric: str
    scale: str = Field(description="difference (highest minus lowest group) or ratio (lowest over highest)")
    value: float | None = Field(description="over the sufficient groups: highest minus lowest, or lowest over highest")
    ci: Interval
    threshold: float | None = Field(description="the policy's threshold, or its ratio threshold for a ratio")
    verdict: str | None = Field(
        description="pass, fail, inconclusive or insufficient; null for a metric the policy does not judge"
    )
    n_needed: int | None = Field(
        description="for an inconclusive verdict: the per-group size at which the deciding pair of groups would "
        "settle with 80% power"
    )
    highest: str | None = None
    lowest: str | None = None


class GroupingOut(Schema):
    grouping: str = Field(description="an attribute, or an intersection 'a & b'")
    attributes: list[str]
    reference: str | None
    verdict: str | None = Field(description="the verdict on the mean score gap")
    groups: list[GroupOut]
    insufficient_groups: list[str]
    gaps: list[GapOut]


class VerdictOut(Schema):
    grouping: str
    metric: str
    scale: str
    value: float | None
    ci: Interval
    threshold: float
    verdict: str
    n_needed: int | None


class RunVerdictOut(Schema):
    verdict: RunVerdictValue = Field(
        description="fail if any judged gap or ratio fails, pass only if every judged one passes, inconclusive "
        "otherwise (insufficient when nothing could be judged)"
    )
    counts: dict[str, int] = Field(description="judged gaps and ratios by verdict")
    failures: list[str] = Field(description='"grouping: metric" of each failing verdict')
    inconclusive: list[str]
    not_judged: list[str] = Field(description="too few items to judge")
    error_control: str = Field(description="the chance of a false verdict in this run, in words")


class CrossCheckOut(Schema):
    passed: bool
    compared: int = Field(description="figures recomputed with the reference libraries")
    tolerance: float
    largest_difference: float
    largest_difference_at: str | None
    libraries: dict[str, str]
    disagreements: list[str]


class ResultsPolicy(RunPolicy):
    threshold: float = Field(description="chosen by the provider; a gap is judged against it")
    ratio_threshold: float = Field(description="a ratio is judged against it; 0.8 is the four-fifths rule")
    confidence: float
    replicates: int
    min_group_size: int
    metrics: list[str]


class ResultsOut(Schema):
    run: int
    period: str
    model: RunModel
    evaluation_set: RunEvaluationSet
    policy: ResultsPolicy
    items: int = Field(description="items audited")
    excluded: dict[str, int]
    verdict: RunVerdictOut
    warnings: list[str] = Field(description="what the engine noticed about the input, in words")
    attributes: list[GroupingOut]
    intersections: list[GroupingOut]
    verdicts: list[VerdictOut]
    cross_check: CrossCheckOut
    evidence_sha256: str


def _interval(pair) -> dict:
    low, high = pair if pair else (None, None)
    return {"low": low, "high": high}


def _group(row: GroupResult) -> dict:
    selection_ci = row.measures.get("selection_rate_ci")
    return {
        "group": row.group, "n": row.n, "sufficient": row.sufficient, "mean_score": row.mean_score,
        "mean_score_ci": {"low": row.mean_score_ci_low, "high": row.mean_score_ci_high},
        "selection_rate": row.selection_rate, "selection_rate_ci": _interval(selection_ci) if selection_ci else None,
    }  # fmt: skip


def _gap(row: GapResult, stored: Gap | None) -> dict:
    return {
        "metric": row.metric, "scale": stored.scale if stored else "difference", "value": row.value,
        "ci": {"low": row.ci_low, "high": row.ci_high}, "threshold": row.threshold, "verdict": row.verdict or None,
        "n_needed": row.n_needed, "highest": stored.highest if stored else None,
        "lowest": stored.lowest if stored else None,
    }  # fmt: skip


def _groupings(run: AuditRun, sections: dict[str, Section]) -> list[dict]:
    """Groups and gaps from the stored result rows, in the evidence's group order, with its reference."""
    groups, gaps = {}, {}
    for row in GroupResult.objects.filter(run=run, grouping__in=sections):
        groups.setdefault(row.grouping, {})[row.group] = row
    for row in GapResult.objects.filter(run=run, grouping__in=sections).order_by("pk"):
        gaps.setdefault(row.grouping, []).append(row)
    out = []
    for name, section in sections.items():
        rows = groups.get(name, {})
        order = [label for label in section.order if label in rows] + sorted(set(rows) - set(section.order))
        gap_rows = [_gap(row, section.gaps.get(row.metric)) for row in gaps.get(name, [])]
        headline = next((g["verdict"] for g in gap_rows if g["metric"] == HEADLINE), None)
        out.append({
            "grouping": name, "attributes": list(section.attributes) or [name], "reference": section.reference,
            "verdict": headline, "groups": [_group(rows[label]) for label in order],
            "insufficient_groups": list(section.insufficient_groups), "gaps": gap_rows,
        })  # fmt: skip
    return out


def _verdict(verdict) -> dict:
    gap = verdict.gap
    return {
        "grouping": verdict.grouping, "metric": gap.metric, "scale": gap.scale, "value": gap.value,
        "ci": _interval(gap.ci), "threshold": gap.threshold, "verdict": gap.verdict, "n_needed": gap.n_needed,
    }  # fmt: skip


def _succeeded(run_id: int) -> AuditRun:
    run = _run(run_id, with_evidence=True)
    if run.status != AuditRun.Status.SUCCEEDED or run.evidence is None:
        raise HttpError(409, f"audit run {run.pk} is {run.status}; results exist once it has succeeded")
    return run


@router.get(
    "/runs/{run_id}/results",
    auth=allowed(*VIEW_RESULTS),
    response=ResultsOut,
    summary="An audit run's groups, gaps and verdicts",
)
def run_results(request, run_id: int):
    """Per attribute and per intersection: each group's size, mean score and interval, the gaps with their
    intervals and verdicts; then the Fairlearn/AIF360 cross-check. Only for a run that has succeeded."""
    run = _succeeded(run_id)
    evidence, policy = run.evidence, run.policy
    findings = findings_of(evidence)
    return {
        "run": run.pk, "period": run.period, "model": _model_out(run.model_version),
        "evaluation_set": _evaluation_set_out(run.evaluation_set),
        "policy": {"name": policy.name, "version": policy.version, "threshold": policy.threshold,
                   "ratio_threshold": policy.ratio_threshold, "confidence": policy.confidence,
                   "replicates": policy.replicates, "min_group_size": policy.min_group_size,
                   "metrics": policy.metrics},
        "items": evidence["data"]["items"], "excluded": run.excluded or {},
        "verdict": findings.run.to_json(), "warnings": list(findings.warnings),
        "attributes": _groupings(run, findings.attributes),
        "intersections": _groupings(run, findings.intersections),
        "verdicts": [_verdict(v) for v in findings.verdicts],
        "cross_check": evidence["cross_check"], "evidence_sha256": run.evidence_sha256,
    }  # fmt: skip


@router.get(
    "/runs/{run_id}/evidence", auth=allowed(*VIEW_RESULTS), response=dict,
    summary="An audit run's evidence JSON, as stored",
    openapi_extra={"responses": {200: {"description": "the evidence document; its SHA-256 is evidence_sha256"}}},
)  # fmt: skip
def run_evidence(request, run_id: int):
    """The evidence document byte for byte as hashed when the run was stored (canonical JSON, sorted keys):
    its SHA-256 equals the run's evidence_sha256, also sent in the X-Evidence-SHA256 header."""
    run = _succeeded(run_id)
    document = orjson.dumps(run.evidence, option=orjson.OPT_SORT_KEYS)
    return HttpResponse(document, content_type="application/json", headers={"X-Evidence-SHA256": run.evidence_sha256})
