"""Admin base classes for tables that only services write."""

from django.contrib import admin


class NoChangeNoDelete(admin.ModelAdmin):
    """Rows of these models change only through services, never through an admin form."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnly(NoChangeNoDelete):
    """Written by services and commands only; the admin shows them."""

    def has_add_permission(self, request):
        return False
