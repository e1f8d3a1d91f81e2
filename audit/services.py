"""Every write of the audit app: policies and audit runs (queued -> running -> succeeded / failed / cancelled)."""

import logging
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import orjson
import pandas as pd
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.fairness import AttributeSpec, AuditInputError, AuditSpec, CrossCheckError, evidence_for, from_frame
from audit.fairness.results import Findings
from audit.fairness.spec import FOUR_FIFTHS, HEADLINE, LABEL_METRICS, TARGET_METRICS
from audit.models import AuditPolicy, AuditRun, GapResult, GroupResult, validate_period
from audit.policies import attribute_specs, column_name, policy_spec
from consent.errors import RuleViolation
from consent.models import DataItem
from consent.rules.ledger import sha256_hex
from consent.selectors import item_attributes
from core import audit_log
from core.audit_log import Actor
from core.files import removed_unless_committed
from scoring.models import EvaluationSet, ModelVersion
from scoring.services import compute_scores, store_scores

logger = logging.getLogger(__name__)
Status = AuditRun.Status


def _require(actor: Actor, permission: str, what: str) -> None:
    """Users need the permission; an actor without a user is the operator's own command or worker."""
    if actor.user is not None and not actor.user.has_perm(permission):
        raise PermissionError(f"{actor.label} may not {what}")


# Policies ------------------------------------------------------------------------------------


def define_policy(
    *,
    actor: Actor,
    name: str,
    attributes: list[dict],
    metrics: list[str] | None = None,
    threshold: float = 0.05,
    ratio_threshold: float = FOUR_FIFTHS,
    confidence: float = 0.95,
    replicates: int = 1000,
    seed: int = 0,
    min_group_size: int = 30,
    decision_threshold: float = 0.5,
    intersections: bool = True,
    description: str = "",
    evaluation_set: EvaluationSet | None = None,
) -> AuditPolicy:
    """A new version of the policy `name` (1 for a new name). With `evaluation_set`, its attributes are
    checked against that set's attribute schema now rather than when a run starts."""
    _require(actor, "audit.define_policy", "define audit policies")
    metrics = list(metrics or ["mean_score_gap"])
    problems = []
    if not name.strip():
        problems.append(("name", "a policy needs a name"))
    for entry in attributes:
        if not isinstance(entry, dict) or not entry.get("attribute"):
            problems.append(("attributes", f"{entry!r}: each attribute is {{'attribute': ..., 'banding': ...}}"))
    unsupported = sorted(set(metrics) & (LABEL_METRICS | TARGET_METRICS))
    if unsupported:
        problems.append(("metrics", f"{unsupported} need ground truth, which registry items do not carry"))
    if problems:
        raise AuditInputError(problems)
    entries = [
        {"attribute": e["attribute"], "banding": e.get("banding") or None, "reference": e.get("reference") or None}
        for e in attributes
    ]
    if evaluation_set is not None:
        attribute_specs(entries, evaluation_set.dataset.attribute_schema.rules())
    # The engine's own rules check the numbers.
    AuditSpec(
        attributes=tuple(AttributeSpec(column_name(e)) for e in entries), threshold=threshold,
        ratio_threshold=ratio_threshold, confidence=confidence, replicates=replicates, seed=seed,
        min_group_size=min_group_size, decision_threshold=decision_threshold, metrics=tuple(metrics),
        intersections=intersections,
    )  # fmt: skip
    with transaction.atomic():
        latest = AuditPolicy.objects.select_for_update().filter(name=name).order_by("-version").first()
        policy = AuditPolicy.objects.create(
            name=name, version=(latest.version + 1) if latest else 1, attributes=entries, metrics=metrics,
            threshold=threshold, ratio_threshold=ratio_threshold, confidence=confidence, replicates=replicates,
            seed=seed, min_group_size=min_group_size, decision_threshold=decision_threshold,
            intersections=intersections, description=description,
        )  # fmt: skip
        audit_log.record(
            actor=actor, action="policy.define", object_type="audit_policy", object_id=policy.pk,
            after=policy.audit_view(),
        )  # fmt: skip
    return policy


# Runs ----------------------------------------------------------------------------------------


def start_audit_run(
    *, actor: Actor, model: ModelVersion, evaluation_set: EvaluationSet, policy: AuditPolicy, period: str
) -> AuditRun:
    """Queue a run; a worker (`manage.py db_worker`) executes it."""
    _require(actor, "audit.start_audit_run", "start audit runs")
    problems = []
    try:
        validate_period(period)
    except Exception as exc:  # noqa: BLE001 - ValidationError carries the message
        problems.append(("period", " ".join(getattr(exc, "messages", [str(exc)]))))
    if not evaluation_set.is_frozen:
        problems.append(("evaluation_set", f"{evaluation_set} must be frozen before it is audited"))
    try:
        attribute_specs(policy.attributes, evaluation_set.dataset.attribute_schema.rules())
    except AuditInputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise RuleViolation(problems)
    with transaction.atomic():
        run = AuditRun.objects.create(
            model_version=model, evaluation_set=evaluation_set, policy=policy, period=period,
            created_by=actor.user,
        )  # fmt: skip
        _enqueue(run)
        audit_log.record(
            actor=actor, action="audit_run.start", object_type="audit_run", object_id=run.pk,
            after={"model": str(model), "evaluation_set": str(evaluation_set), "policy": str(policy),
                   "period": period, "task_id": run.task_id},
        )  # fmt: skip
    return run


def _enqueue(run: AuditRun) -> None:
    from audit.tasks import execute_audit_run_task

    result = execute_audit_run_task.enqueue(run.pk)
    run.task_id = str(result.id)
    run.save(update_fields=["task_id"])


def cancel_audit_run(*, actor: Actor, run: AuditRun, reason: str = "cancelled by the user") -> AuditRun:
    """A queued run never starts; a running one stops at its next step and stores nothing."""
    _require(actor, "audit.start_audit_run", "cancel audit runs")
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run.pk)
        before = run.status
        run.set_status(Status.CANCELLED, actor=actor.label, reason=reason)
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at"])
        audit_log.record(
            actor=actor, action="audit_run.cancel", object_type="audit_run", object_id=run.pk,
            before={"status": before}, after={"status": run.status, "reason": reason},
        )  # fmt: skip
    return run


def retry_audit_run(*, actor: Actor, run: AuditRun) -> AuditRun:
    _require(actor, "audit.start_audit_run", "retry audit runs")
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run.pk)
        before = {"status": run.status, "reason": run.reason}
        run.set_status(Status.QUEUED, actor=actor.label, reason="retried")
        run.progress, run.stage, run.finished_at, run.heartbeat_at = 0.0, "", None, None
        run.save(update_fields=["progress", "stage", "finished_at", "heartbeat_at"])
        _enqueue(run)
        audit_log.record(
            actor=actor, action="audit_run.retry", object_type="audit_run", object_id=run.pk,
            before=before, after={"status": run.status, "task_id": run.task_id},
        )  # fmt: skip
    return run


def reap_stale_runs(*, now=None) -> list[AuditRun]:
    """Fail runs whose worker stopped beating (killed or crashed); they stored nothing and can be retried.

    Every worker calls this every AUDIT_RUN_REAP_INTERVAL seconds, between tasks (audit's `db_worker`) and
    while it runs one (its heartbeat thread), and so does every task as it starts. A queued run whose task
    ended without starting it (its worker lost the database at that moment) is failed too, so it can be retried.
    """
    now = now or timezone.now()
    limit = now - timedelta(seconds=settings.AUDIT_RUN_STALE_AFTER)
    reaped = []
    for run_id in AuditRun.objects.filter(status=Status.RUNNING, heartbeat_at__lt=limit).values_list("pk", flat=True):
        with transaction.atomic():
            run = AuditRun.objects.select_for_update().get(pk=run_id)
            if run.status != Status.RUNNING or run.heartbeat_at >= limit:
                continue
            reason = (
                f"the worker stopped without finishing (no sign of life since {run.heartbeat_at:%Y-%m-%d %H:%M:%S} "
                "UTC); nothing was stored, and the run can be retried"
            )
            _fail(run, reason)
        logger.warning("audit run %s failed: %s", run.pk, reason)
        reaped.append(run)
    reaped.extend(_reap_queued_runs_without_a_task())
    return reaped


def _reap_queued_runs_without_a_task() -> list[AuditRun]:
    from django_tasks_db.models import DBTaskResult

    queued = dict(AuditRun.objects.filter(status=Status.QUEUED).exclude(task_id="").values_list("task_id", "pk"))
    if not queued:
        return []
    ended = DBTaskResult.objects.filter(pk__in=list(queued)).finished().values_list("pk", flat=True)
    reaped = []
    for task_id in ended:
        with transaction.atomic():
            run = AuditRun.objects.select_for_update().get(pk=queued[str(task_id)])
            if run.status != Status.QUEUED or run.task_id != str(task_id):
                continue
            _fail(run, "its task ended before the run started (the worker lost the database); it can be retried")
        reaped.append(run)
    return reaped


class _Cancelled(Exception):
    pass


SYSTEM = Actor.system("audit-worker")


def execute_audit_run(run_id: int) -> str:
    """The task's body: re-check consent, score, compute, cross-check, then store everything at once."""
    reap_stale_runs()
    with transaction.atomic():
        run = AuditRun.objects.select_for_update().get(pk=run_id)
        if run.status != Status.QUEUED:
            return run.status
        run.set_status(Status.RUNNING, actor=SYSTEM.label)
        run.started_at = run.heartbeat_at = timezone.now()
        run.attempts += 1
        run.save(update_fields=["started_at", "heartbeat_at", "attempts"])
    try:
        with _heartbeat(run):
            computed, evidence = _compute(run)
            _store(run, computed, evidence)
    except _Cancelled:
        return Status.CANCELLED
    except (RuleViolation, AuditInputError, CrossCheckError) as exc:
        _fail_if_running(run, str(exc))
    except Exception as exc:
        _fail_if_running(run, f"internal error ({type(exc).__name__}: {exc}); nothing was stored")
        raise
    run.refresh_from_db()
    return run.status


@contextmanager
def _heartbeat(run: AuditRun):
    """While the body runs, a thread writes the run's heartbeat every AUDIT_RUN_HEARTBEAT_SECONDS, whatever the
    body is busy with (one long bootstrap gives no progress to report), and reaps other workers' dead runs.

    The thread is stopped and joined once the body's transactions have ended, so the run's own thread never
    waits for it while holding a row lock that the beat needs.
    """
    stop = threading.Event()
    thread = threading.Thread(
        target=_beat_until, args=(stop, run.pk, run.attempts), name=f"audit-run-{run.pk}-heartbeat", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _beat_until(stop: threading.Event, run_id: int, attempt: int) -> None:
    try:
        while not stop.wait(settings.AUDIT_RUN_HEARTBEAT_SECONDS):
            try:
                AuditRun.objects.filter(pk=run_id, status=Status.RUNNING, attempts=attempt).update(
                    heartbeat_at=timezone.now()
                )
                reap_stale_runs()
            except DatabaseError as exc:  # a missed beat is survivable; the next one may get through
                logger.warning("audit run %s: heartbeat not written (%s)", run_id, exc)
    finally:
        connection.close()  # this thread's own connection


class _Beat:
    """Progress and heartbeat, written at most once a second; also notices a cancellation."""

    def __init__(self, run: AuditRun):
        self.run_id = run.pk
        self.attempt = run.attempts
        self.last = 0.0

    def __call__(self, stage: str, progress: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 1.0:
            return
        self.last = now
        with transaction.atomic():
            updated = AuditRun.objects.filter(pk=self.run_id, status=Status.RUNNING, attempts=self.attempt).update(
                stage=stage, progress=round(progress, 4), heartbeat_at=timezone.now()
            )
        if not updated:
            raise _Cancelled


def _compute(run: AuditRun):
    beat = _Beat(run)
    beat("re-checking consent and scoring", 0.0, force=True)
    schema = run.evaluation_set.dataset.attribute_schema.rules()
    spec = policy_spec(run.policy, schema)
    computed = compute_scores(
        evaluation_set=run.evaluation_set, model=run.model_version,
        on_progress=lambda done, total: beat("scoring", 0.6 * done / max(total, 1)),
    )  # fmt: skip
    beat("reading attributes", 0.6, force=True)
    scores = computed.table.to_pandas()
    attributes = item_attributes(actor=SYSTEM, items=DataItem.objects.filter(pk__in=scores["item_id"].tolist()))
    frame = pd.DataFrame({"item": scores["item_ref"], "score": scores["score"]})
    attribute_of = scores["item_id"].map(attributes)
    for entry in run.policy.attributes:
        values = attribute_of.map(lambda a, name=entry["attribute"]: (a or {}).get(name, ""))
        if entry.get("banding"):
            rule = schema.attributes[entry["attribute"]]
            values = values.map(lambda v, r=rule, b=entry["banding"]: r.band_of(b, v) if v else "")
        frame[column_name(entry)] = values
    data = from_frame(
        frame, id_column="item", score_column="score", attributes=spec.attributes,
        decision_threshold=spec.decision_threshold,
    )  # fmt: skip
    beat("computing group statistics, intervals and the cross-check", 0.7, force=True)
    evidence = evidence_for(data, spec, source=_source(run), context={"excluded": computed.excluded})
    beat("storing results", 0.95, force=True)
    return computed, evidence


def _source(run: AuditRun) -> dict:
    model = run.model_version
    return {
        "kind": "audit_run",
        "run": run.pk,
        "period": run.period,
        "model": {"name": model.name, "version": model.version, "kind": model.kind,
                  "architecture": model.architecture, "sha256": model.artifact_sha256},
        "evaluation_set": {"name": run.evaluation_set.name, "manifest_sha256": run.evaluation_set.manifest_sha256},
        "policy": {"name": run.policy.name, "version": run.policy.version},
    }  # fmt: skip


def _store(run: AuditRun, computed, evidence: dict) -> None:
    findings = Findings.from_json(evidence)
    with removed_unless_committed(), transaction.atomic():
        locked = AuditRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != Status.RUNNING or locked.attempts != run.attempts:
            raise _Cancelled
        artifact = store_scores(
            actor=SYSTEM, evaluation_set=locked.evaluation_set, model=locked.model_version, computed=computed
        )
        evidence["source"]["score_artifact"] = {"path": artifact.path, "sha256": artifact.sha256}
        document = orjson.dumps(evidence, option=orjson.OPT_SORT_KEYS)
        GroupResult.objects.bulk_create(_group_results(locked, findings))
        GapResult.objects.bulk_create(_gap_results(locked, findings))
        locked.score_artifact = artifact
        locked.excluded = computed.excluded
        locked.evidence = orjson.loads(document)
        locked.evidence_sha256 = sha256_hex(document)
        locked.verdict = findings.run.verdict
        locked.finished_at = timezone.now()
        locked.progress, locked.stage = 1.0, "done"
        locked.save(
            update_fields=["score_artifact", "excluded", "evidence", "evidence_sha256", "verdict", "finished_at",
                           "progress", "stage"]
        )  # fmt: skip
        locked.set_status(Status.SUCCEEDED, actor=SYSTEM.label)
        headline = [v for v in findings.verdicts if v.gap.metric == HEADLINE]
        audit_log.record(
            actor=SYSTEM, action="audit_run.succeed", object_type="audit_run", object_id=locked.pk,
            after={"evidence_sha256": locked.evidence_sha256, "score_artifact": artifact.sha256,
                   "verdict": findings.run.verdict, "failures": list(findings.run.failures),
                   "verdicts": {v.grouping: v.gap.verdict for v in headline}},
        )  # fmt: skip


def _group_results(run: AuditRun, findings: Findings):
    for grouping, section in findings.sections.items():
        for group, result in section.groups.items():
            mean = result.figures["mean_score"]
            selection = result.figures.get("selection_rate")
            yield GroupResult(
                run=run, grouping=grouping, group=group, n=result.n, sufficient=result.sufficient,
                mean_score=mean.value, mean_score_ci_low=mean.ci[0], mean_score_ci_high=mean.ci[1],
                selection_rate=selection.value if selection else None, measures=result.to_json(),
            )  # fmt: skip


def _gap_results(run: AuditRun, findings: Findings):
    for grouping, section in findings.sections.items():
        for metric, gap in section.gaps.items():
            yield GapResult(
                run=run, grouping=grouping, metric=metric, value=gap.value, ci_low=gap.ci[0], ci_high=gap.ci[1],
                threshold=gap.threshold, verdict=gap.verdict or "", n_needed=gap.n_needed, pass_bound=gap.pass_bound,
            )  # fmt: skip


def _fail_if_running(run: AuditRun, reason: str) -> None:
    with transaction.atomic():
        locked = AuditRun.objects.select_for_update().get(pk=run.pk)
        if locked.status == Status.RUNNING and locked.attempts == run.attempts:
            _fail(locked, reason)


def _fail(run: AuditRun, reason: str) -> None:
    run.set_status(Status.FAILED, actor=SYSTEM.label, reason=reason)
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    audit_log.record(
        actor=SYSTEM, action="audit_run.fail", object_type="audit_run", object_id=run.pk, after={"reason": reason}
    )
