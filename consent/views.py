"""Pages of the consent and provenance app.

Data stewards record and import consent here; compliance officers and auditors see the same
pages without the forms. Every write calls a service (consent/services.py or the importers);
reads go through consent/selectors.py.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consent import ledger, selectors, services
from consent.errors import ImportFailed, RuleViolation
from consent.forms import EraseForm, GrantForm, ImportForm, SubjectSearchForm, WithdrawForm
from consent.importing import readers
from consent.importing.consent_events import import_consent_events
from consent.importing.items import import_items
from consent.models import ImportBatch, Subject
from consent.rules.age_of_consent import guardian_requirement
from consent.rules.purposes import Purpose
from core.uploads import form_data, upload_caps
from core.web import actor_of, require_permission

VIEW_CONSENT = ("consent.view_subject", "consent.view_consentevent")
VIEW_DATASETS = ("consent.view_dataset", "consent.view_source", "consent.view_dataitem")
GRANT = "consent.add_consentevent"
WITHDRAW = "consent.withdraw_consent"
ERASE = "consent.erase_subject"
IMPORT_CONSENT = "consent.import_consent"
IMPORT_ITEMS = "consent.import_items"
PROTECTED_ATTRIBUTES = selectors.PROTECTED_ATTRIBUTES_PERMISSION

COVERAGE_PURPOSE = Purpose.EVALUATION
PROBLEMS_SHOWN = 500  # a file with more problems lists the first ones and says how many there are


# Subjects ------------------------------------------------------------------------------------


@require_GET
@require_permission(*VIEW_CONSENT)
def subjects(request):
    """Find a subject by reference; htmx swaps in the results as the steward types."""
    form = SubjectSearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    context = {"form": form, "query": query, "results": selectors.search_subjects(query)}
    partial = request.htmx and not request.htmx.history_restore_request
    template = "consent/_subject_results.html" if partial else "consent/subjects.html"
    return render(request, template, context)


def _subject_or_404(key) -> Subject:
    subject = selectors.subject_by_key(key)
    if subject is None:
        raise Http404("no such subject")
    return subject


def _guardian_rule(subject: Subject, now):
    """Whether a grant recorded today needs a guardian (GDPR Art. 8); None once erased."""
    if subject.birth_month is None or not subject.jurisdiction:
        return None
    return guardian_requirement(country=subject.jurisdiction, birth=subject.birth_month, collected_on=now.date())


def _grant_form(subject: Subject, now, data=None) -> GrantForm:
    rule = _guardian_rule(subject, now)
    return GrantForm(
        data, notices=selectors.published_notices(now), guardian_needed=bool(rule and rule.required),
        auto_id="grant-%s",
    )  # fmt: skip


def _withdraw_form(overview, data=None) -> WithdrawForm:
    active = [row.purpose.value for row in overview if row.active]
    return WithdrawForm(data, auto_id="withdraw-%s", initial={"purposes": active})


def _panel_context(request, subject: Subject, *, grant_form=None, withdraw_form=None, result=None) -> dict:
    """The state, forms and history that the grant and withdrawal forms replace in place."""
    now = timezone.now()
    overview = selectors.consent_overview(subject, now)
    user = request.user
    writable = not subject.is_erased
    if grant_form is None and writable and user.has_perm(GRANT):
        grant_form = _grant_form(subject, now)
    if withdraw_form is None and writable and user.has_perm(WITHDRAW):
        withdraw_form = _withdraw_form(overview)
    return {
        "subject": subject,
        "now": now,
        "overview": overview,
        "history": selectors.event_history(subject),
        "grant_form": grant_form,
        "withdraw_form": withdraw_form,
        "result": result,
    }


def _subject_page(request, subject: Subject, **panel) -> dict:
    context = _panel_context(request, subject, **panel)
    context["guardian_rule"] = _guardian_rule(subject, context["now"])
    context["can_erase"] = not subject.is_erased and request.user.has_perm(ERASE)
    # Collected for the age-of-consent rule, which is the steward's to apply; others see its outcome only.
    context["shows_birth_month"] = request.user.has_perm(GRANT)
    return context


@require_GET
@require_permission(*VIEW_CONSENT)
def subject(request, key):
    subject = _subject_or_404(key)
    return render(request, "consent/subject.html", _subject_page(request, subject))


def _recorded(request, subject: Subject, message: str):
    """After a grant or withdrawal: htmx gets the refreshed panel, a plain form post goes back to the page."""
    if request.htmx:
        return render(request, "consent/_consent_panel.html", _panel_context(request, subject, result=message))
    messages.success(request, message)
    return redirect("consent:subject", key=subject.key)


def _refused(request, subject: Subject, **forms):
    """The panel (htmx) or the page with the refused form, each problem next to its field; nothing was stored."""
    if request.htmx:
        return render(request, "consent/_consent_panel.html", _panel_context(request, subject, **forms))
    return render(request, "consent/subject.html", _subject_page(request, subject, **forms))


def _outcome(what: str, event) -> str:
    purposes = ", ".join(purpose.label.lower() for purpose in event.purpose_list)
    if getattr(event, "replayed", False):  # the same form submitted again: nothing new was stored
        return f"{what} already recorded as event #{event.sequence}: {purposes}."
    return f"{what} recorded as event #{event.sequence}: {purposes}."


@require_POST
@require_permission(*VIEW_CONSENT, GRANT)
def grant(request, key):
    subject = _subject_or_404(key)
    form = _grant_form(subject, timezone.now(), data=request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            event = services.grant_consent(
                actor=actor_of(request), subject=subject, purposes=data["purposes"], notice=data["notice"],
                channel=data["channel"], guardian_reference=data.get("guardian_reference", ""),
                event_id=data["event_id"],
            )  # fmt: skip
        except RuleViolation as violation:
            form.add_violation(violation)
        else:
            return _recorded(request, subject, _outcome("Grant", event))
    return _refused(request, subject, grant_form=form)


@require_POST
@require_permission(*VIEW_CONSENT, WITHDRAW)
def withdraw(request, key):
    subject = _subject_or_404(key)
    form = _withdraw_form(selectors.consent_overview(subject, timezone.now()), data=request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            event = services.withdraw_consent(
                actor=actor_of(request), subject=subject, purposes=data["purposes"], channel=data["channel"],
                event_id=data["event_id"],
            )  # fmt: skip
        except RuleViolation as violation:
            form.add_violation(violation)
        else:
            return _recorded(request, subject, _outcome("Withdrawal", event))
    return _refused(request, subject, withdraw_form=form)


@require_http_methods(["GET", "POST"])
@require_permission(*VIEW_CONSENT, ERASE)
def erase(request, key):
    """GDPR Art. 17, after the steward types the reference: a ledger event, then the personal data goes."""
    subject = _subject_or_404(key)
    form = None
    if not subject.is_erased:
        form = EraseForm(request.POST or None, reference=subject.reference, auto_id="erase-%s")
        if request.method == "POST" and form.is_valid():
            try:
                event = services.erase_subject(
                    actor=actor_of(request), subject=subject, channel=form.cleaned_data["channel"],
                    event_id=form.cleaned_data["event_id"],
                )  # fmt: skip
            except RuleViolation as violation:
                form.add_violation(violation)
            else:
                messages.success(request, f"Subject erased (event #{event.sequence}); the ledger still verifies.")
                return redirect("consent:subject", key=subject.key)
    context = {"subject": subject, "form": form, "live_items": subject.items.filter(erased_at__isnull=True).count()}
    return render(request, "consent/erase.html", context)


# Imports -------------------------------------------------------------------------------------


def _import_page(request, template: str, context: dict, form: ImportForm, run):
    """Shared by both imports: read the upload, run the importer, and list every problem when it refuses."""
    failure = None
    if request.method == "POST" and form.is_valid():
        try:
            summary = run(readers.read_upload(form.cleaned_data["file"]))
        except ImportFailed as refused:
            failure = refused
        else:
            messages.success(request, summary)
            return redirect(request.path)
    problems = failure.problems if failure else []
    context.update(form=form, problems=problems[:PROBLEMS_SHOWN], problem_count=len(problems))
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@require_permission(*VIEW_CONSENT, IMPORT_CONSENT)
@upload_caps(file="MAX_IMPORT_UPLOAD_BYTES")
def import_consent(request):
    def run(table: readers.Table) -> str:
        result = import_consent_events(
            actor=actor_of(request), frame=table.frame, source_name=table.source_name, source_sha256=table.sha256
        )
        return (
            f"Imported {result.created} consent events from {result.rows} rows of {table.source_name} "
            f"({result.unchanged} already recorded, {result.new_subjects} new subjects)."
        )

    form = ImportForm(**form_data(request))
    context = {"batches": selectors.recent_imports(ImportBatch.Kind.CONSENT)}
    return _import_page(request, "consent/import.html", context, form, run)


@require_http_methods(["GET", "POST"])
@require_permission(*VIEW_DATASETS, IMPORT_ITEMS)
@upload_caps(file="MAX_IMPORT_UPLOAD_BYTES")
def import_dataset_items(request, pk: int):
    dataset = _dataset_or_404(pk)

    def run(table: readers.Table) -> str:
        result = import_items(
            actor=actor_of(request), dataset=dataset, frame=table.frame, source_name=table.source_name,
            source_sha256=table.sha256,
        )  # fmt: skip
        return (
            f"Imported {result.created} items into {dataset} from {result.rows} rows of {table.source_name} "
            f"({result.unchanged} already present)."
        )

    form = ImportForm(**form_data(request))
    context = {
        "dataset": dataset,
        "attributes": dataset.attribute_schema.rules().attributes,
        "sources": selectors.sources_of(dataset),
        "batches": selectors.recent_imports(ImportBatch.Kind.ITEMS),
    }
    return _import_page(request, "consent/import_items.html", context, form, run)


# The ledger ----------------------------------------------------------------------------------


@require_GET
@require_permission(*VIEW_CONSENT)
def ledger_check(request):
    """Recompute the hash chain now, as `manage.py verify_ledger` does, and name the first broken event."""
    check = ledger.verify()
    return render(request, "consent/ledger.html", {"check": check, "checked_at": timezone.now()})


# Datasets and provenance ---------------------------------------------------------------------


def _dataset_or_404(pk: int):
    dataset = selectors.dataset_by_pk(pk)
    if dataset is None:
        raise Http404("no such dataset")
    return dataset


@require_GET
@require_permission(*VIEW_DATASETS)
def datasets(request):
    return render(request, "consent/datasets.html", {"datasets": selectors.dataset_list()})


@require_GET
@require_permission(*VIEW_DATASETS)
def dataset(request, pk: int):
    dataset = _dataset_or_404(pk)
    now = timezone.now()
    strata = None
    if request.user.has_perm(PROTECTED_ATTRIBUTES):
        strata = selectors.items_per_stratum(dataset, actor=actor_of(request))
    context = {
        "dataset": dataset,
        "sources": selectors.sources_of(dataset),
        "licences": selectors.items_by_licence(dataset),
        "coverage": selectors.consent_coverage(dataset, COVERAGE_PURPOSE, now),
        "strata": strata,
        "can_import": request.user.has_perm(IMPORT_ITEMS),
    }
    return render(request, "consent/dataset.html", context)
