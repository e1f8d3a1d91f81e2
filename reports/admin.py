from django.contrib import admin

from core.admin_bases import ReadOnly
from reports.models import FindingComment, Report, ReportImpact, ReportTransition


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TransitionInline(_ReadOnlyInline):
    model = ReportTransition
    fields = ["at", "from_status", "to_status", "actor_label", "comment"]
    readonly_fields = fields


class CommentInline(_ReadOnlyInline):
    model = FindingComment
    fields = ["at", "finding", "author_label", "text"]
    readonly_fields = fields


class ImpactInline(_ReadOnlyInline):
    model = ReportImpact
    fields = ["detected_at", "item_ids"]
    readonly_fields = fields


@admin.register(Report)
class ReportAdmin(ReadOnly):
    list_display = ["report_id", "quarter", "model_version", "status", "created_at", "approved_at", "pdf_sha256"]
    list_filter = ["status", "quarter"]
    search_fields = ["report_id"]
    exclude = ["context"]
    inlines = [TransitionInline, CommentInline, ImpactInline]
