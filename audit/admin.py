from django.contrib import admin, messages

from audit import services
from audit.models import AuditPolicy, AuditRun, AuditRunTransition, GapResult, IllegalTransition
from core.admin_bases import ReadOnly
from core.audit_log import Actor


@admin.register(AuditPolicy)
class AuditPolicyAdmin(ReadOnly):
    list_display = ["name", "version", "threshold", "ratio_threshold", "confidence", "replicates", "min_group_size",
                    "created_at"]  # fmt: skip
    search_fields = ["name"]


class TransitionInline(admin.TabularInline):
    model = AuditRunTransition
    fields = ["at", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class GapInline(admin.TabularInline):
    model = GapResult
    fields = ["grouping", "metric", "value", "ci_low", "ci_high", "threshold", "verdict", "n_needed", "pass_bound"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AuditRun)
class AuditRunAdmin(ReadOnly):
    list_display = ["pk", "period", "model_version", "evaluation_set", "policy", "status", "verdict", "stage",
                    "progress", "created_at", "finished_at"]  # fmt: skip
    list_filter = ["status", "verdict", "period"]
    exclude = ["evidence"]
    inlines = [GapInline, TransitionInline]
    actions = ["cancel", "retry"]

    @admin.action(description="Cancel the selected runs", permissions=["start"])
    def cancel(self, request, queryset):
        self._each(request, queryset, services.cancel_audit_run)

    @admin.action(description="Retry the selected failed or cancelled runs", permissions=["start"])
    def retry(self, request, queryset):
        self._each(request, queryset, services.retry_audit_run)

    def has_start_permission(self, request):
        return request.user.has_perm("audit.start_audit_run")

    def _each(self, request, queryset, action):
        for run in queryset:
            try:
                action(actor=Actor.of_user(request.user), run=run)
            except IllegalTransition as exc:
                self.message_user(request, str(exc), messages.WARNING)
