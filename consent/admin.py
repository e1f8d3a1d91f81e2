"""The data steward's workplace in the Django admin.

Every write goes through consent/services.py: add forms call a service and show its refusals
on the fields they concern; actions call a service per selected row. Nothing here edits or
deletes a consent event, and item-level protected attributes are shown only to users with
`view_protected_attributes`, each showing logged by the selector that reads them.
"""

from contextvars import ContextVar

from django import forms
from django.contrib import admin, messages
from django.db.models import F
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
from core.audit_log import Actor

# The user viewing an item page, for the read-only field that shows (and logs) its attributes.
_viewer: ContextVar = ContextVar("item_viewer")


def _attach(form: forms.Form, violation: RuleViolation) -> None:
    """Show a service's refusal on the form fields it names (or on the form as a whole)."""
    for field, message in violation.problems:
        form.add_error(field if field in form.fields else None, message)


class ServiceAddForm(forms.ModelForm):
    """An add form that writes through a service as the last step of validation.

    Subclasses define `create(actor)`, which calls their service. Running it while the form
    validates lets the service's refusals land on the fields they name; the admin then gets
    the created object from `save()` instead of saving the form's own instance.
    """

    created = None

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            self.created = self.create(self.actor)
        except RuleViolation as violation:
            _attach(self, violation)

    def save(self, commit=True):
        return self.created


class ReadOnlyAfterCreate(admin.ModelAdmin):
    """Rows are created through a service and never changed or deleted from the admin."""

    add_form_class: type[ServiceAddForm] | None = None

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None and self.add_form_class is not None:
            kwargs["form"] = self.add_form_class
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = Actor.of_user(request.user)
        return form

    def save_model(self, request, obj, form, change):
        # The service already wrote the row (and its audit-log entry) in form.clean().
        pass

    def save_related(self, request, form, formsets, change):
        pass


# Subjects ------------------------------------------------------------------------------------


class ConsentNowFilter(admin.SimpleListFilter):
    """Active or not active now, per purpose, answered by the bulk selector in one query."""

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


class SubjectAddForm(ServiceAddForm):
    birth_month = forms.DateField(help_text="any day of the birth month; only the month is kept")

    class Meta:
        model = Subject
        fields = ["reference", "jurisdiction", "birth_month"]

    def create(self, actor):
        return services.register_subject(
            actor=actor,
            reference=self.cleaned_data["reference"] or "",
            jurisdiction=self.cleaned_data["jurisdiction"],
            birth_month=self.cleaned_data["birth_month"],
        )


@admin.register(Subject)
class SubjectAdmin(ReadOnlyAfterCreate):
    add_form_class = SubjectAddForm
    list_display = ["reference", "jurisdiction", "birth_month", "created_at", "erased_at"]
    list_filter = [ConsentNowFilter, "jurisdiction", ErasedFilter]
    search_fields = ["=reference", "reference__startswith"]
    actions = ["withdraw_all_consent", "erase_personal_data"]
    readonly_fields = ["reference", "key", "jurisdiction", "birth_month", "created_at", "erased_at", "consent_now",
                       "history"]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["reference", "jurisdiction", "birth_month"]
        return self.readonly_fields

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
        done = 0
        for subject in queryset:
            try:
                service(actor=Actor.of_user(request.user), subject=subject, channel="web_form")
            except RuleViolation as violation:
                self.message_user(request, f"{subject}: {violation}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message.format(count=done), messages.SUCCESS)

    @admin.action(description="Withdraw all consent", permissions=["withdraw"])
    def withdraw_all_consent(self, request, queryset):
        self._each(request, queryset, services.withdraw_consent, "Recorded {count} withdrawal(s).")

    @admin.action(description="Erase personal data (GDPR Art. 17)", permissions=["erase"])
    def erase_personal_data(self, request, queryset):
        self._each(request, queryset, services.erase_subject, "Erased {count} subject(s).")

    def has_withdraw_permission(self, request):
        return request.user.has_perm("consent.withdraw_consent")

    def has_erase_permission(self, request):
        return request.user.has_perm("consent.erase_subject")


# Consent events ------------------------------------------------------------------------------


class PurposeFilter(admin.SimpleListFilter):
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
class ConsentEventAdmin(admin.ModelAdmin):
    list_display = ["sequence", "event_id", "subject", "kind", "purpose_list_display", "channel", "collected_at",
                    "expires_at", "recorded_at", "short_hash"]  # fmt: skip
    list_filter = ["kind", PurposeFilter, "channel"]
    search_fields = ["=subject__reference", "=event_id"]
    list_select_related = ["subject"]
    date_hierarchy = "collected_at"

    @admin.display(description="purposes")
    def purpose_list_display(self, event):
        return ", ".join(event.purposes)

    @admin.display(description="hash")
    def short_hash(self, event):
        return f"{event.hash[:12]}…"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Notices -------------------------------------------------------------------------------------


class NoticeAddForm(ServiceAddForm):
    offered = forms.MultipleChoiceField(
        label="Purposes offered", choices=[(p.value, p.label) for p in Purpose], widget=forms.CheckboxSelectMultiple
    )

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


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAfterCreate):
    add_form_class = DatasetAddForm
    list_display = ["name", "version", "attribute_schema", "created_at"]
    search_fields = ["name"]

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


@admin.register(DataItem)
class DataItemAdmin(admin.ModelAdmin):
    list_display = ["item_ref", "dataset", "subject", "source", "kind", "short_hash", "erased_at"]
    list_filter = ["dataset", "kind", "source__copyright_status"]
    search_fields = ["=item_ref", "=subject__reference"]
    list_select_related = ["dataset", "subject", "source"]
    fields = ["dataset", "item_ref", "subject", "source", "kind", "content_hash", "image", "feature_file",
              "protected_attributes", "created_at", "erased_at"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="content hash")
    def short_hash(self, item):
        return f"{item.content_hash[:12]}…" if item.content_hash else ""

    def get_fields(self, request, obj=None):
        if request.user.has_perm(selectors.PROTECTED_ATTRIBUTES_PERMISSION):
            return self.fields
        return [f for f in self.fields if f != "protected_attributes"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        token = _viewer.set(request.user)
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):  # render now, while the viewer is known
                response.render()
            return response
        finally:
            _viewer.reset(token)

    @admin.display(description="protected attributes")
    def protected_attributes(self, item):
        # Read through the selector, which checks the permission again and logs the read.
        values = selectors.item_attributes(
            actor=Actor.of_user(_viewer.get()), items=DataItem.objects.filter(pk=item.pk)
        )
        return ", ".join(f"{name}: {value}" for name, value in values.get(item.pk, {}).items()) or "(none)"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ["imported_at", "kind", "source_name", "rows", "created", "unchanged", "actor_label"]
    list_filter = ["kind"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
