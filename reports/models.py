from django.conf import settings
from django.db import models

from audit.models import AuditRun, validate_period
from scoring.models import ModelVersion


class IllegalTransition(Exception):
    pass


class Report(models.Model):
    """A quarterly bias report. Draft -> reviewed (auditor) -> approved (compliance officer); approved is final."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        REVIEWED = "reviewed"
        APPROVED = "approved"

    TRANSITIONS = {
        Status.DRAFT: {Status.REVIEWED},
        Status.REVIEWED: {Status.APPROVED, Status.DRAFT},
        Status.APPROVED: set(),
    }

    report_id = models.CharField(max_length=40, unique=True)
    quarter = models.CharField(max_length=7, validators=[validate_period])
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="blank: every model audited in the quarter",
    )  # fmt: skip
    runs = models.ManyToManyField(AuditRun, related_name="reports")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    context = models.JSONField(help_text="the figures the report renders, as generated")
    evidence_sha256 = models.CharField(max_length=64, help_text="of the evidence bundle attached to the PDF")
    pdf_path = models.CharField(max_length=300, help_text="relative to ARTIFACT_ROOT")
    pdf_sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("generate_report", "Can generate quarterly reports"),
            ("review_report", "Can review reports and comment on findings"),
            ("approve_report", "Can approve reports"),
        ]

    def __str__(self):
        return self.report_id

    def save(self, *args, **kwargs):
        if self.pk is not None and Report.objects.filter(pk=self.pk, status=self.Status.APPROVED).exists():
            raise ValueError(f"report {self.report_id} is approved; it and its file never change")
        super().save(*args, **kwargs)

    def set_status(self, new: str, *, actor, comment: str = "") -> None:
        if new not in self.TRANSITIONS[self.status]:
            raise IllegalTransition(f"report {self.report_id} cannot go from {self.status} to {new}")
        ReportTransition.objects.create(
            report=self, from_status=self.status, to_status=new, actor=actor.user, actor_label=actor.label,
            comment=comment,
        )  # fmt: skip
        self.status = new


class ReportTransition(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=16, choices=Report.Status.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=Report.Status.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.from_status or 'new'} -> {self.to_status}"


class FindingComment(models.Model):
    """An auditor's comment on one finding of a report, e.g. 'skin_tone:monk_3 / mean_score_gap'."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="comments")
    finding = models.CharField(max_length=400)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_label = models.CharField(max_length=200)
    text = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.author_label} on {self.finding}"


class ReportImpact(models.Model):
    """Audited items of an approved report whose subjects withdrew afterwards. The report itself is unchanged."""

    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="impacts")
    item_ids = models.JSONField()
    detected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["detected_at", "pk"]

    def __str__(self):
        return f"{self.report}: {len(self.item_ids)} item(s) withdrawn after approval"
