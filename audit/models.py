import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from scoring.models import EvaluationSet, ModelVersion, ScoreArtifact

PERIOD = re.compile(r"^\d{4}-Q[1-4]$")


def validate_period(value: str) -> None:
    if not PERIOD.match(value):
        raise ValidationError(f"{value!r} is not a reporting quarter like 2026-Q4")


class Verdict(models.TextChoices):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    INSUFFICIENT = "insufficient"


def validate_ratio_threshold(value: float) -> None:
    if not 0 < value < 1:
        raise ValidationError(f"{value} must be between 0 and 1 (0.8: the four-fifths rule)")


class AuditPolicy(models.Model):
    """What an audit computes. A version never changes once defined; a change is a new version."""

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    attributes = models.JSONField(help_text='[{"attribute": "skin_tone", "banding": "monk_3", "reference": null}]')
    metrics = models.JSONField(help_text="gap and ratio metrics judged against their thresholds")
    threshold = models.FloatField()
    ratio_threshold = models.FloatField(
        default=0.8, validators=[validate_ratio_threshold],
        help_text="ratio metrics (lowest group over highest) fail when credibly under it; 0.8 is the four-fifths rule",
    )  # fmt: skip
    confidence = models.FloatField()
    replicates = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    min_group_size = models.PositiveIntegerField()
    decision_threshold = models.FloatField(help_text="a score at or over it counts as selected")
    intersections = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "audit policies"
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="policy_name_version_unique")]
        permissions = [("define_policy", "Can define audit policies")]

    def __str__(self):
        return f"{self.name} v{self.version}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError(f"policy {self} is a fixed version; define a new version instead")
        super().save(*args, **kwargs)

    def audit_view(self) -> dict:
        return {
            "name": self.name, "version": self.version, "attributes": self.attributes, "metrics": self.metrics,
            "threshold": self.threshold, "ratio_threshold": self.ratio_threshold, "confidence": self.confidence,
            "replicates": self.replicates, "seed": self.seed, "min_group_size": self.min_group_size,
            "decision_threshold": self.decision_threshold, "intersections": self.intersections,
        }  # fmt: skip


class IllegalTransition(Exception):
    pass


class AuditRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    TRANSITIONS = {
        Status.QUEUED: {Status.RUNNING, Status.CANCELLED, Status.FAILED},
        Status.RUNNING: {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED},
        Status.FAILED: {Status.QUEUED},
        Status.CANCELLED: {Status.QUEUED},
        Status.SUCCEEDED: set(),
    }

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="audit_runs")
    evaluation_set = models.ForeignKey(EvaluationSet, on_delete=models.PROTECT, related_name="audit_runs")
    policy = models.ForeignKey(AuditPolicy, on_delete=models.PROTECT, related_name="runs")
    period = models.CharField(max_length=7, validators=[validate_period], help_text="reporting quarter, e.g. 2026-Q4")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    reason = models.TextField(blank=True, help_text="why the run failed or was cancelled")
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=100, blank=True)
    progress = models.FloatField(default=0.0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    score_artifact = models.ForeignKey(ScoreArtifact, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    excluded = models.JSONField(default=dict, blank=True, help_text="members not audited, by reason")
    evidence = models.JSONField(null=True, blank=True)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    verdict = models.CharField(
        max_length=16, choices=Verdict.choices, blank=True,
        help_text="the audit's own verdict: fail if any judged gap fails, pass only if every judged one passes",
    )  # fmt: skip

    class Meta:
        permissions = [("start_audit_run", "Can start, cancel and retry audit runs")]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["period"])]

    def __str__(self):
        return f"audit run {self.pk} ({self.model_version} on {self.evaluation_set}, {self.period})"

    def set_status(self, new: str, *, actor: str, reason: str = "") -> None:
        """Move to `new` if the state machine allows it, keeping a history row. Call inside a transaction."""
        if new not in self.TRANSITIONS[self.status]:
            raise IllegalTransition(f"{self} cannot go from {self.status} to {new}")
        AuditRunTransition.objects.create(
            run=self, from_status=self.status, to_status=new, reason=reason, actor=actor
        )
        self.status = new
        self.reason = reason
        self.save(update_fields=["status", "reason"])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELLED)


class AuditRunTransition(models.Model):
    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=16, choices=AuditRun.Status.choices)
    to_status = models.CharField(max_length=16, choices=AuditRun.Status.choices)
    reason = models.TextField(blank=True)
    actor = models.CharField(max_length=200)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.from_status} -> {self.to_status}"


class GroupResult(models.Model):
    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="group_results")
    grouping = models.CharField(max_length=300, help_text="an attribute, or an intersection 'a & b'")
    group = models.CharField(max_length=300)
    n = models.PositiveIntegerField()
    sufficient = models.BooleanField()
    mean_score = models.FloatField(null=True)
    mean_score_ci_low = models.FloatField(null=True)
    mean_score_ci_high = models.FloatField(null=True)
    selection_rate = models.FloatField(null=True)
    measures = models.JSONField(help_text="every measure of the group with its interval")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "grouping", "group"], name="group_result_unique")]

    def __str__(self):
        return f"{self.grouping} = {self.group}"


class GapResult(models.Model):
    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="gap_results")
    grouping = models.CharField(max_length=300)
    metric = models.CharField(max_length=64)
    value = models.FloatField(null=True)
    ci_low = models.FloatField(null=True)
    ci_high = models.FloatField(null=True)
    threshold = models.FloatField(null=True)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True)
    n_needed = models.PositiveIntegerField(null=True)
    pass_bound = models.FloatField(null=True, help_text="the bound a pass is decided on (see the evidence's rule)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "grouping", "metric"], name="gap_result_unique")]

    def __str__(self):
        return f"{self.metric} of {self.grouping}"
