"""Reads of the audit app; other apps read runs and their results through these."""

from audit.models import AuditRun


def quarter_runs(quarter: str, model_version=None) -> list[AuditRun]:
    """The latest succeeded run of each model version for the quarter (or of the one model version)."""
    runs = AuditRun.objects.filter(period=quarter, status=AuditRun.Status.SUCCEEDED)
    if model_version is not None:
        runs = runs.filter(model_version=model_version)
    latest = {}
    for run in runs.select_related("model_version", "evaluation_set", "policy", "score_artifact").order_by(
        "finished_at", "pk"
    ):
        latest[run.model_version_id] = run
    return sorted(latest.values(), key=lambda r: (r.model_version.name, r.model_version.version))


def latest_run_of_model_name(quarter: str, model_name: str) -> AuditRun | None:
    return (
        AuditRun.objects.filter(period=quarter, status=AuditRun.Status.SUCCEEDED, model_version__name=model_name)
        .order_by("-finished_at", "-pk")
        .first()
    )
