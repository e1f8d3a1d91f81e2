"""The data steward's workplace in the Django admin.

Every write goes through consent/services.py: add forms call a service and show its refusals
on the fields they concern; actions call a service per selected row. Nothing here edits or
deletes a row of these models, and item-level protected attributes are shown only to users
with `view_protected_attributes`, each showing read (and logged) by the selector.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers, widgets
from django.db.models import F
from django.template import engines
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from consent import selectors, services
from consent.errors import RuleViolation
from consent.models import (
    AttributeSchema,
    ConsentEvent,
    DataItem,
    Dataset,
    ImportBatch,
    Notice,
    Source,
    Subject,
)
from consent.rules.purposes import Purpose
from core.admin_bases import NoChangeNoDelete, ReadOnly
from core.audit_log import Actor

# Requests to the subject admin name the channel the subject used; the admin is a web form.
ADMIN_CHANNEL = "web_form"


class ServiceAddForm(forms.ModelForm):
    """An add form that writes through a service as the last step of validation.

    Subclasses define `create(actor)`, which calls their service. Running it while the form
    validates lets the service's refusals land on the fields they name (`field_names` maps a
    service's name for a field to the form's, where they differ); the admin then gets the
    created object from `save()` instead of saving the form's own instance. The admin's add
    view runs in a transaction, so nothing the service wrote survives a later failure.
    """

    actor: Actor  # set by ReadOnlyAfterCreate.get_form for the signed-in user
    field_names: dict[str, str] = {}
    created = None

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            self.created = self.create(self.actor)
        except RuleViolation as violation:
            for field, message in violation.problems:
                field = self.field_names.get(field, field)
                self.add_error(field if field in self.fields else None, message)

    def save(self, commit=True):
        return self.created


class ReadOnlyAfterCreate(NoChangeNoDelete):
    """Rows are created through a service (`add_form_class`) and read-only afterwards."""

    add_form_class: type[ServiceAddForm]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form_class
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = Actor.of_user(request.user)  # a class made for this request
        return form

    def save_model(self, request, obj, form, change):
        pass  # the service already wrote the row, and its audit-log entry, while the form validated

    def save_related(self, request, form, formsets, change):
        pass


# Subjects ------------------------------------------------------------------------------------


class JurisdictionFilter(admin.SimpleListFilter):
    """The jurisdictions present, without the blank one that erased subjects have."""

    title = "jurisdiction"
    parameter_name = "jurisdiction"

    def lookups(self, request, model_admin):
        codes = Subject.objects.exclude(jurisdiction="").order_by("jurisdiction").values_list("jurisdiction", flat=True)
        return [(code, code) for code in codes.distinct()]

    def queryset(self, request, queryset):
        return queryset.filter(jurisdiction=self.value()) if self.value() else queryset


class ErasedFilter(admin.SimpleListFilter):
    title = "erased"
    parameter_name = "erased"

    def lookups(self, request, model_admin):
        return [("yes", "Erased"), ("no", "Not erased")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(erased_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(erased_at__isnull=True)
        return queryset


class ConsentNowFilter(admin.SimpleListFilter):
    """Active or not active now, per purpose, answered by the bulk selector in one query.

    It comes last in `list_filter`, so the selector only looks at the subjects the other
    filters kept.
    """

    title = "consent now"
    parameter_name = "consent"

    def lookups(self, request, model_admin):
        choices = []
        for purpose in Purpose:
            choices.append((f"{purpose.value}:active", f"{purpose.label}: active"))
            choices.append((f"{purpose.value}:inactive", f"{purpose.label}: not active"))
        return choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        purpose_value, _, state = self.value().partition(":")
        try:
            purpose = Purpose(purpose_value)
        except ValueError:
            return queryset.none()
        active = selectors.subjects_with_active_consent(purpose, timezone.now(), subjects=queryset)
        if state == "active":
            return queryset.filter(pk__in=active)
        return queryset.exclude(pk__in=active)


class SubjectAddForm(ServiceAddForm):
    reference = forms.CharField(max_length=128, help_text="the pseudonymous reference; no names or contact data")
    birth_month = forms.DateField(
        widget=widgets.AdminDateWidget, help_text="any day of the birth month; only the month is kept"
    )
    field_names = {"subject": "reference"}

    class Meta:
        model = Subject
        fields = ["reference", "jurisdiction", "birth_month"]

    def create(self, actor):
        return services.register_subject(
            actor=actor,
            reference=self.cleaned_data["reference"],
            jurisdiction=self.cleaned_data["jurisdiction"],
            birth_month=self.cleaned_data["birth_month"],
        )


ERASE_CONFIRMATION = """{% extends "admin/base_site.html" %}
{% load admin_urls l10n %}
{% block bodyclass %}{{ block.super }} app-{{ opts.app_label }} model-{{ opts.model_name }}{% endblock %}
{% block breadcrumbs %}<div class="breadcrumbs">
<a href="{% url 'admin:index' %}">Home</a>
&rsaquo; <a href="{% url 'admin:app_list' app_label=opts.app_label %}">{{ opts.app_config.verbose_name }}</a>
&rsaquo; <a href="{% url opts|admin_urlname:'changelist' %}">{{ opts.verbose_name_plural|capfirst }}</a>
&rsaquo; Erase personal data
</div>{% endblock %}
{% block content %}
<p>Erasing a subject (GDPR Art. 17) withdraws all their consent, clears their reference, jurisdiction
and birth month, and deletes the files and protected attributes of their data items. The consent
ledger keeps its events, no longer linked to the person. This cannot be undone.</p>
<h2>{{ subjects|length }} subject{{ subjects|length|pluralize }}</h2>
<ul>{% for subject in subjects %}<li>{{ subject }}</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}
<div>
{% for subject in subjects %}<input type="hidden" name="{{ action_checkbox_name }}" value="{{ subject.pk|unlocalize }}">
{% endfor %}<input type="hidden" name="action" value="erase_personal_data">
<input type="hidden" name="confirmed" value="yes">
<input type="submit" value="Yes, erase their personal data">
<a href="{% url opts|admin_urlname:'changelist' %}" class="button cancel-link">No, take me back</a>
</div>
</form>
{% endblock %}
"""


@admin.register(Subject)
class SubjectAdmin(ReadOnlyAfterCreate):
    add_form_class = SubjectAddForm
    list_display = ["reference", "jurisdiction", "birth_month", "created_at", "erased_at"]
    list_filter = [JurisdictionFilter, ErasedFilter, ConsentNowFilter]
    search_fields = ["reference__exact", "reference__startswith"]
    search_help_text = "A subject reference, or its beginning."
    # Facet counts would run the consent filter once per choice, over the whole population.
    show_facets = admin.ShowFacets.NEVER
    show_full_result_count = False
    actions = ["withdraw_all_consent", "erase_personal_data"]
    readonly_fields = ["reference", "key", "jurisdiction", "birth_month", "created_at", "erased_at", "consent_now",
                       "history"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["reference", "jurisdiction", "birth_month"]
        return self.readonly_fields

    def log_addition(self, request, obj, message):
        # Django's admin log would keep the reference (its object_repr) after an erasure; the
        # service's audit-log entry, which names the subject by key only, records the addition.
        return None

    @admin.display(description="Consent now")
    def consent_now(self, subject):
        state = selectors.consent_state(subject, timezone.now())
        return format_html_join(
            "",
            "<div><strong>{}</strong>: {}</div>",
            (
                (purpose.label, f"active since {s.since:%Y-%m-%d}" if s.active else "not active")
                for purpose, s in state.items()
            ),
        )

    @admin.display(description="Event history")
    def history(self, subject):
        rows = format_html_join(
            "",
            "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.sequence,
                    e.kind,
                    ", ".join(e.purposes),
                    e.get_channel_display(),
                    f"{e.collected_at:%Y-%m-%d %H:%M}",
                    f"{e.expires_at:%Y-%m-%d}" if e.expires_at else "",
                )  # fmt: skip
                for e in subject.events.order_by("collected_at", "sequence")
            ),
        )
        header = mark_safe(  # noqa: S308 - a constant
            "<tr><th>#</th><th>kind</th><th>purposes</th><th>channel</th><th>collected</th><th>expires</th></tr>"
        )
        return format_html("<table>{}{}</table>", header, rows)

    def _each(self, request, queryset, service, done_message):
        """Call `service` for each subject, in its own transaction; report refusals one by one."""
        actor = Actor.of_user(request.user)
        done = 0
        for subject in queryset:
            try:
                service(actor=actor, subject=subject, channel=ADMIN_CHANNEL)
            except RuleViolation as violation:
                reasons = "; ".join(message for _, message in violation.problems)
                self.message_user(request, f"{subject}: {reasons}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message.format(count=done), messages.SUCCESS)

    @admin.action(description="Withdraw all consent", permissions=["withdraw"])
    def withdraw_all_consent(self, request, queryset):
        self._each(request, queryset, services.withdraw_consent, "Recorded {count} withdrawal(s).")

    @admin.action(description="Erase personal data (GDPR Art. 17)", permissions=["erase"])
    def erase_personal_data(self, request, queryset):
        if request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase personal data?",
                "opts": self.model._meta,
                "subjects": list(queryset),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(request, engines["django"].from_string(ERASE_CONFIRMATION), context)
        self._each(request, queryset, services.erase_subject, "Erased {count} subject(s).")
        return None

    def has_withdraw_permission(self, request):
        return request.user.has_perm("consent.withdraw_consent")

    def has_erase_permission(self, request):
        return request.user.has_perm("consent.erase_subject")


# Consent events ------------------------------------------------------------------------------


class PurposeFilter(admin.SimpleListFilter):
    """Events that name a purpose, by a bit test on the purpose mask."""

    title = "purpose"
    parameter_name = "purpose"

    def lookups(self, request, model_admin):
        return [(p.value, p.label) for p in Purpose]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            bit = Purpose(self.value()).bit
        except ValueError:
            return queryset.none()
        return queryset.alias(has_purpose=F("purpose_mask").bitand(bit)).exclude(has_purpose=0)


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnly):
    """The ledger, append-only: no add, change or delete here (the model and a trigger refuse them too)."""

    list_display = ["sequence", "event_id", "subject", "kind", "purpose_list_display", "channel", "collected_at",
                    "expires_at", "recorded_at", "short_hash"]  # fmt: skip
    list_filter = ["kind", PurposeFilter, "channel"]
    search_fields = ["subject__reference__exact", "event_id__exact"]
    search_help_text = "A subject reference or an event id, exactly."
    list_select_related = ["subject"]
    date_hierarchy = "collected_at"
    show_full_result_count = False

    @admin.display(description="purposes")
    def purpose_list_display(self, event):
        return ", ".join(event.purposes)

    @admin.display(description="hash")
    def short_hash(self, event):
        return f"{event.hash[:12]}…"


# Notices -------------------------------------------------------------------------------------


class NoticeAddForm(ServiceAddForm):
    # Not `purposes`: the model's JSON field of that name is the service's to fill.
    offered = forms.MultipleChoiceField(
        label="Purposes offered", choices=[(p.value, p.label) for p in Purpose], widget=forms.CheckboxSelectMultiple
    )
    field_names = {"purposes": "offered"}

    class Meta:
        model = Notice
        fields = ["version", "language", "title", "text", "published_at"]

    def create(self, actor):
        return services.publish_notice(
            actor=actor,
            version=self.cleaned_data["version"],
            language=self.cleaned_data["language"],
            title=self.cleaned_data["title"],
            text=self.cleaned_data["text"],
            purposes=self.cleaned_data["offered"],
            published_at=self.cleaned_data["published_at"],
        )


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAfterCreate):
    add_form_class = NoticeAddForm
    list_display = ["version", "language", "title", "purposes", "published_at", "text_hash"]
    list_filter = ["language"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["version", "language", "title", "text", "offered", "published_at"]
        return ["version", "language", "title", "text", "purposes", "published_at", "text_hash"]


# Provenance ----------------------------------------------------------------------------------


class AttributeSchemaAddForm(ServiceAddForm):
    class Meta:
        model = AttributeSchema
        fields = ["name", "version", "definition"]

    def create(self, actor):
        return services.register_attribute_schema(
            actor=actor,
            name=self.cleaned_data["name"],
            version=self.cleaned_data["version"],
            definition=self.cleaned_data["definition"],
        )


@admin.register(AttributeSchema)
class AttributeSchemaAdmin(ReadOnlyAfterCreate):
    add_form_class = AttributeSchemaAddForm
    list_display = ["name", "version", "created_at"]


class DatasetAddForm(ServiceAddForm):
    class Meta:
        model = Dataset
        fields = ["name", "version", "attribute_schema", "motivation", "collection_process", "known_limitations"]

    def create(self, actor):
        return services.register_dataset(actor=actor, **self.cleaned_data)


class SourceInline(admin.TabularInline):
    model = Source
    fields = ["name", "origin", "licence", "copyright_status", "collection_start", "collection_end"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAfterCreate):
    add_form_class = DatasetAddForm
    list_display = ["name", "version", "attribute_schema", "created_at"]
    search_fields = ["name"]
    # The datasheet (Gebru et al.) first, then the dataset's sources.
    fieldsets = [
        (None, {"fields": ["name", "version", "attribute_schema"]}),
        ("Datasheet", {"fields": ["motivation", "collection_process", "known_limitations"]}),
    ]

    def get_inlines(self, request, obj):
        return [] if obj is None else [SourceInline]


class SourceAddForm(ServiceAddForm):
    class Meta:
        model = Source
        fields = ["dataset", "name", "origin", "licence", "copyright_status", "collection_start", "collection_end"]

    def create(self, actor):
        return services.add_source(actor=actor, **self.cleaned_data)


@admin.register(Source)
class SourceAdmin(ReadOnlyAfterCreate):
    add_form_class = SourceAddForm
    list_display = ["name", "dataset", "licence", "copyright_status", "collection_start", "collection_end"]
    list_filter = ["copyright_status", "licence", "dataset"]
    list_select_related = ["dataset"]
    search_fields = ["name"]


@admin.register(DataItem)
class DataItemAdmin(ReadOnly):
    """Items are imported, never edited here; their protected attributes only on the item page."""

    list_display = ["item_ref", "dataset", "subject", "source", "kind", "short_hash", "erased_at"]
    list_filter = ["dataset", "kind", "source__copyright_status"]
    search_fields = ["item_ref__exact", "subject__reference__exact"]
    search_help_text = "An item reference or a subject reference, exactly."
    list_select_related = ["dataset", "subject", "source"]
    fields = ["dataset", "item_ref", "subject", "source", "kind", "content_hash", "image", "feature_file",
              "protected_attributes", "created_at", "erased_at"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="content hash")
    def short_hash(self, item):
        return f"{item.content_hash[:12]}…" if item.content_hash else ""

    def may_see_attributes(self, request) -> bool:
        return request.user.has_perm(selectors.PROTECTED_ATTRIBUTES_PERMISSION)

    def get_fields(self, request, obj=None):
        if self.may_see_attributes(request):
            return self.fields
        return [f for f in self.fields if f != "protected_attributes"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.may_see_attributes(request):
            # Read through the selector, which checks the permission again and logs the read.
            values = selectors.item_attributes(
                actor=Actor.of_user(request.user), items=DataItem.objects.filter(pk=obj.pk)
            )
            obj.shown_attributes = values.get(obj.pk, {})
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    @admin.display(description="protected attributes")
    def protected_attributes(self, item):
        shown = getattr(item, "shown_attributes", None)
        if shown is None:
            return "(not read)"
        return ", ".join(f"{name}: {value}" for name, value in shown.items()) or "(none)"


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnly):
    list_display = ["imported_at", "kind", "source_name", "rows", "created", "unchanged", "actor_label"]
    list_filter = ["kind"]
