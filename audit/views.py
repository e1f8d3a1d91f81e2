"""The pages of audit policies and audit runs: the officer defines and starts, the officer and auditor read."""

from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from markupsafe import Markup

from audit import exports, services
from audit.fairness import AuditInputError
from audit.forms import PolicyForm, StartRunForm
from audit.models import AuditPolicy, AuditRun, IllegalTransition
from audit.selectors import evidence_document, headline_gaps, run_results
from consent.errors import RuleViolation
from core.web import actor_of, forbidden, require_permission
from reports.render.charts import group_chart
from scoring.forms import add_problems, whole_number
from scoring.selectors import ScoresChanged, frozen_evaluation_sets

RUNS_PER_PAGE = 50
POLL_SECONDS = 1
NO_WORKER_AFTER_SECONDS = 30

# Policies ------------------------------------------------------------------------------------


@require_permission("audit.view_auditpolicy")
def policy_list(request):
    versions = AuditPolicy.objects.order_by("name", "-version")
    context = {"policies": versions, "can_define": request.user.has_perm("audit.define_policy")}
    return render(request, "audit/policies.html", context)


@require_permission("audit.define_policy")
def policy_new(request):
    """A new policy, or (`?from=<pk>`) the next version of one, filled in from it."""
    base = None
    base_pk = whole_number(request.GET.get("from", ""))  # anything else ("²", "x") is ignored
    if base_pk is not None:
        base = AuditPolicy.objects.filter(pk=base_pk).first()
    form = PolicyForm(request.POST or None, initial=PolicyForm.initial_from(base) if base else None)
    if request.method == "POST" and form.is_valid():
        try:
            policy = services.define_policy(actor=actor_of(request), **form.service_arguments())
        except (AuditInputError, RuleViolation) as exc:
            add_problems(form, exc.problems, PolicyForm.ALIASES)
        except PermissionError:
            return forbidden(request)
        else:
            messages.success(request, f"Defined {policy}. Earlier versions stay as they were.")
            return redirect("audit:policies")
    return render(request, "audit/policy_form.html", {"form": form, "base": base})


# Runs ----------------------------------------------------------------------------------------


@require_permission("audit.view_auditrun")
def run_list(request):
    runs = AuditRun.objects.select_related("model_version", "evaluation_set", "policy", "created_by").defer("evidence")
    page = Paginator(runs.order_by("-created_at", "-pk"), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "verdicts": headline_gaps(page.object_list),
        "can_start": request.user.has_perm("audit.start_audit_run"),
    }
    return render(request, "audit/runs.html", context)


@require_permission("audit.start_audit_run")
def run_new(request):
    initial = {}
    chosen_set = whole_number(request.GET.get("evaluation_set", ""))
    if chosen_set is not None:
        initial["evaluation_set"] = chosen_set
    form = StartRunForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            run = services.start_audit_run(actor=actor_of(request), **form.service_arguments())
        except RuleViolation as exc:
            add_problems(form, exc.problems, StartRunForm.ALIASES)
        except PermissionError:
            return forbidden(request)
        else:
            messages.success(
                request, f"Audit run {run.pk} is queued. A worker runs it; this page follows its progress."
            )
            return redirect("audit:run", run.pk)
    context = {
        "form": form,
        "has_frozen_sets": frozen_evaluation_sets().exists(),
    }
    return render(request, "audit/run_form.html", context)


def _run(pk: int) -> AuditRun:
    return get_object_or_404(
        AuditRun.objects.select_related("model_version", "evaluation_set__dataset", "policy", "score_artifact"), pk=pk
    )


@require_permission("audit.view_auditrun", "audit.view_groupresult", "audit.view_gapresult")
def run_detail(request, pk: int):
    """The run's status (live while it is queued or running) and, once it succeeded, its results."""
    run = _run(pk)
    results = run_results(run) if run.status == AuditRun.Status.SUCCEEDED and run.evidence else None
    context = {
        "run": run,
        "results": results,
        "charts": _charts(run, results) if results else [],
        "history": run.history.all(),
        "can_operate": request.user.has_perm("audit.start_audit_run"),
        **_status_context(run),
    }
    return render(request, "audit/run.html", context)


@require_permission("audit.view_auditrun")
def run_progress(request, pk: int):
    """The small status block the run page polls; once the run is finished it stops polling and reloads the page."""
    run = get_object_or_404(AuditRun.objects.defer("evidence"), pk=pk)
    response = render(request, "audit/_run_status.html", {"run": run, **_status_context(run)})
    if run.is_finished and request.htmx:
        response["HX-Refresh"] = "true"  # the finished page shows the results and the right buttons
    return response


def _status_context(run: AuditRun) -> dict:
    waiting = 0.0
    if run.status == AuditRun.Status.QUEUED:
        waiting = (timezone.now() - run.created_at).total_seconds()
    return {"poll_seconds": POLL_SECONDS, "no_worker": waiting > NO_WORKER_AFTER_SECONDS}


def _charts(run: AuditRun, results: dict) -> list[Markup]:
    """One SVG per attribute, cached by the evidence hash (a succeeded run's evidence never changes)."""
    confidence = results["policy"]["confidence"]
    charts = []
    for index, attribute in enumerate(results["attributes"]):
        key = f"audit-run-chart:{run.evidence_sha256}:{index}"
        svg = cache.get(key)
        if svg is None:
            svg = group_chart(attribute, confidence=confidence, chart_id=f"run{run.pk}-{index}")
            cache.set(key, svg, timeout=24 * 3600)
        charts.append(Markup(svg))  # noqa: S704 - our own SVG; matplotlib escapes the labels
    return charts


@require_POST
@require_permission("audit.start_audit_run")
def run_cancel(request, pk: int):
    run = _run(pk)
    try:
        services.cancel_audit_run(actor=actor_of(request), run=run)
    except IllegalTransition:
        messages.error(request, f"Audit run {run.pk} is {run.status}: there is nothing to cancel.")
    except PermissionError:
        return forbidden(request)
    else:
        messages.success(request, f"Audit run {run.pk} is cancelled. Nothing of it was stored; you can retry it.")
    return redirect("audit:run", run.pk)


@require_POST
@require_permission("audit.start_audit_run")
def run_retry(request, pk: int):
    run = _run(pk)
    try:
        services.retry_audit_run(actor=actor_of(request), run=run)
    except IllegalTransition:
        messages.error(request, f"Audit run {run.pk} is {run.status}: only a failed or cancelled run can be retried.")
    except PermissionError:
        return forbidden(request)
    else:
        messages.success(request, f"Audit run {run.pk} is queued again.")
    return redirect("audit:run", run.pk)


# Downloads -----------------------------------------------------------------------------------


@require_permission("audit.view_auditrun", "audit.view_groupresult", "audit.view_gapresult")
def run_evidence(request, pk: int):
    """The stored evidence JSON, byte for byte what its SHA-256 was computed over."""
    run = _run(pk)
    if run.evidence is None:
        return HttpResponse("This run has no evidence yet.", status=404, content_type="text/plain")
    response = HttpResponse(evidence_document(run), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="audit-run-{run.pk}-evidence.json"'
    response["X-Evidence-SHA256"] = run.evidence_sha256
    return response


@require_permission("audit.view_auditrun", "audit.view_groupresult", "audit.view_gapresult")
def run_scores(request, pk: int):
    """Per-item scores as CSV, streamed; group values only for users who may read protected attributes."""
    run = _run(pk)
    if run.score_artifact is None:
        return HttpResponse("This run has no scores yet.", status=404, content_type="text/plain")
    try:
        rows = exports.score_rows(run, actor=actor_of(request), with_groups=exports.may_see_groups(request.user))
    except ScoresChanged as exc:
        return HttpResponse(f"{exc}; the file is not handed out.", status=409, content_type="text/plain")
    response = StreamingHttpResponse(exports.csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-run-{run.pk}-scores.csv"'
    return response
