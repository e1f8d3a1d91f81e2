from django.contrib import admin

from core.admin_bases import ReadOnly
from scoring.models import EvaluationSet, ModelVersion, ScoreArtifact


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnly):
    list_display = ["name", "version", "kind", "architecture", "artifact_sha256", "created_at"]
    list_filter = ["kind", "architecture"]
    search_fields = ["name"]


@admin.register(EvaluationSet)
class EvaluationSetAdmin(ReadOnly):
    list_display = ["name", "dataset", "item_kind", "status", "snapshot_at", "manifest_sha256", "frozen_at"]
    list_filter = ["status", "dataset"]
    search_fields = ["name"]


@admin.register(ScoreArtifact)
class ScoreArtifactAdmin(ReadOnly):
    list_display = ["evaluation_set", "model_version", "scored", "excluded", "device", "sha256", "created_at"]
    list_filter = ["model_version"]
