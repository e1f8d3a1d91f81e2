from django.db import models

from consent.models import DataItem, Dataset


class ModelVersion(models.Model):
    """A scoring model: trusted architecture code plus safetensors weights, or a file of precomputed scores."""

    class Kind(models.TextChoices):
        TORCH = "torch", "PyTorch architecture and weights"
        PRECOMPUTED = "precomputed", "Precomputed scores"

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    architecture = models.CharField(max_length=100, blank=True)
    config = models.JSONField(default=dict, blank=True, help_text="the architecture's configuration")
    artifact_path = models.CharField(max_length=300, help_text="weights or scores file, relative to ARTIFACT_ROOT")
    artifact_sha256 = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="model_name_version_unique")]
        permissions = [("register_model", "Can register a model version")]

    def __str__(self):
        return f"{self.name} {self.version}"

    def audit_view(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "architecture": self.architecture,
            "config": self.config,
            "sha256": self.artifact_sha256,
        }


class EvaluationSet(models.Model):
    """Items drawn from one dataset, stratified by protected attributes, from eligible items only.

    Frozen sets never change: their membership and a manifest hash over it are fixed.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        FROZEN = "frozen", "Frozen"

    name = models.CharField(max_length=200, unique=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="evaluation_sets")
    item_kind = models.CharField(max_length=16, blank=True, help_text="tabular or image; blank for both")
    snapshot_at = models.DateTimeField(help_text="consent is checked as of this time")
    strata = models.JSONField(help_text="attributes (and bandings) the set is stratified by")
    allocation = models.JSONField(help_text="per-stratum targets, or proportional allocation with a minimum")
    excluded_copyright = models.JSONField(default=list, help_text="copyright statuses not allowed")
    seed = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    report = models.JSONField(default=dict, help_text="per stratum: available, eligible, drawn, exclusions by reason")
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    frozen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("build_evaluation_set", "Can build and freeze evaluation sets")]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self._state.adding and EvaluationSet.objects.filter(pk=self.pk, status=self.Status.FROZEN).exists():
            raise ValueError(f"evaluation set {self.name!r} is frozen and never changes")
        super().save(*args, **kwargs)

    @property
    def is_frozen(self) -> bool:
        return self.status == self.Status.FROZEN

    def audit_view(self) -> dict:
        return {
            "name": self.name,
            "dataset": str(self.dataset),
            "snapshot_at": self.snapshot_at,
            "strata": self.strata,
            "allocation": self.allocation,
            "seed": self.seed,
            "status": self.status,
            "manifest_sha256": self.manifest_sha256,
            "members": sum(s["drawn"] for s in self.report.get("strata", [])),
        }


class EvaluationSetMember(models.Model):
    evaluation_set = models.ForeignKey(EvaluationSet, on_delete=models.CASCADE, related_name="members")
    item = models.ForeignKey(DataItem, on_delete=models.PROTECT, related_name="+")
    stratum = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["evaluation_set", "item"], name="member_unique_in_set"),
        ]

    def __str__(self):
        return f"{self.evaluation_set} / {self.item_id}"

    def save(self, *args, **kwargs):
        if EvaluationSet.objects.filter(pk=self.evaluation_set_id, status=EvaluationSet.Status.FROZEN).exists():
            raise ValueError("the members of a frozen evaluation set never change")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.evaluation_set.is_frozen:
            raise ValueError("the members of a frozen evaluation set never change")
        return super().delete(*args, **kwargs)


class ScoreArtifact(models.Model):
    """The per-item scores of one scoring of an evaluation set by a model version (Parquet, hashed)."""

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="score_artifacts")
    evaluation_set = models.ForeignKey(EvaluationSet, on_delete=models.PROTECT, related_name="score_artifacts")
    path = models.CharField(max_length=300, help_text="relative to ARTIFACT_ROOT")
    sha256 = models.CharField(max_length=64)
    scored = models.PositiveIntegerField()
    excluded = models.JSONField(default=dict, help_text="members not scored, by reason (e.g. withdrawn since freeze)")
    device = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.model_version} on {self.evaluation_set} ({self.scored} items)"
