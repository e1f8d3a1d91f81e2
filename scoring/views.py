"""The compliance officer's pages for evaluation sets and model versions (auditors and stewards may look)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from consent.errors import RuleViolation
from consent.selectors import dataset_by_pk
from core.uploads import form_data, upload_caps
from core.web import actor_of, require_permission
from scoring import selectors, services
from scoring.forms import EvaluationSetForm, ModelVersionForm, add_problems, whole_number
from scoring.models import EvaluationSet, ModelVersion
from scoring.selectors import affected_counts, affected_members

SETS_PER_PAGE = 50


# Evaluation sets -----------------------------------------------------------------------------


@require_permission("scoring.view_evaluationset")
def evaluation_sets(request):
    page = Paginator(selectors.evaluation_sets(), SETS_PER_PAGE).get_page(request.GET.get("page"))
    sets = list(page.object_list)
    affected = affected_counts(sets)  # the sets on this page only
    context = {
        "page": page,
        "rows": [{"evaluation_set": s, "affected": affected[s.pk]} for s in sets],
        "can_build": request.user.has_perm("scoring.build_evaluation_set"),
    }
    return render(request, "scoring/evaluation_sets.html", context)


@require_permission("scoring.build_evaluation_set")
def evaluation_set_new(request):
    """Draw a set. Changing the dataset re-renders the strata choices in place (htmx, `?dataset=`)."""
    chosen = whole_number(request.GET.get("dataset", ""))
    dataset = dataset_by_pk(chosen) if chosen is not None else None
    form = EvaluationSetForm(request.POST or None, dataset=dataset)
    if request.method == "POST" and form.is_valid():
        try:
            evaluation_set = services.build_evaluation_set(actor=actor_of(request), **form.service_arguments())
        except RuleViolation as exc:
            add_problems(form, exc.problems, {"excluded_copyright": "admit_disputed"})
        else:
            report = evaluation_set.report
            messages.success(
                request,
                f"Drew {report['drawn']:,} of {report['eligible']:,} eligible items into “{evaluation_set.name}”. "
                "Check the strata, then freeze the set to audit it.",
            )
            return redirect("scoring:evaluation-set", evaluation_set.pk)
    return render(request, "scoring/evaluation_set_form.html", {"form": form})


@require_permission("scoring.view_evaluationset")
def evaluation_set(request, pk: int):
    evaluation_set = get_object_or_404(EvaluationSet.objects.select_related("dataset"), pk=pk)
    report = evaluation_set.report
    context = {
        "evaluation_set": evaluation_set,
        "report": report,
        "reasons": sorted({reason for s in report.get("strata", []) for reason in s["excluded"]}),
        "affected": len(affected_members(evaluation_set)),
        "can_build": request.user.has_perm("scoring.build_evaluation_set"),
        "can_start_run": request.user.has_perm("audit.start_audit_run"),
    }
    return render(request, "scoring/evaluation_set.html", context)


@require_POST
@require_permission("scoring.build_evaluation_set")
def freeze_evaluation_set(request, pk: int):
    evaluation_set = get_object_or_404(EvaluationSet, pk=pk)
    try:
        evaluation_set = services.freeze_evaluation_set(actor=actor_of(request), evaluation_set=evaluation_set)
    except RuleViolation as exc:
        messages.error(request, "; ".join(message for _, message in exc.problems))
    else:
        messages.success(
            request, f"“{evaluation_set.name}” is frozen; manifest SHA-256 {evaluation_set.manifest_sha256[:12]}…"
        )
    return redirect("scoring:evaluation-set", evaluation_set.pk)


# Model versions ------------------------------------------------------------------------------


@require_permission("scoring.view_modelversion")
def model_versions(request):
    context = {
        "models": selectors.model_versions(),
        "can_register": request.user.has_perm("scoring.register_model"),
    }
    return render(request, "scoring/models.html", context)


@require_permission("scoring.register_model")
@upload_caps(weights="MAX_WEIGHTS_UPLOAD_BYTES", scores="MAX_SCORES_UPLOAD_BYTES")
def model_new(request):
    form = ModelVersionForm(**form_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            model = _register(request, form.cleaned_data)
        except RuleViolation as exc:
            add_problems(form, exc.problems, ModelVersionForm.ALIASES)
        else:
            messages.success(request, f"Registered {model} (SHA-256 {model.artifact_sha256[:12]}…).")
            return redirect("scoring:models")
    return render(request, "scoring/model_form.html", {"form": form})


def _register(request, data: dict) -> ModelVersion:
    common = {
        "actor": actor_of(request),
        "name": data["name"].strip(),
        "version": data["version"].strip(),
        "description": data["description"],
    }
    if data["kind"] == "torch":
        upload = data["weights"]
        return services.register_model_version(
            **common,
            architecture=data["architecture"],
            config=data["config"],
            weights=upload.read(),
            weights_name=upload.name,
        )
    return services.register_precomputed_scores(**common, scores=data["scores_frame"])
