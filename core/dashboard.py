"""The first page after sign-in: what needs attention, per model."""

from django.shortcuts import render

from core.web import require_permission


@require_permission()
def dashboard(request):
    return render(request, "core/dashboard.html", {})
