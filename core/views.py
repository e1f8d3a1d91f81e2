from django import forms
from django.contrib import messages
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.models import ApiToken
from core.tokens import issue_api_token, revoke_api_token
from core.web import actor_of, require_permission


@require_GET
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “consent kiosk, Berlin office”.")


@never_cache  # a new key is shown once; no cache may keep the page
@require_permission()
def account(request):
    """Who you are, your roles, and your API tokens (a new key is shown once)."""
    form = TokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        token, new_key = issue_api_token(actor=actor_of(request), user=request.user, name=form.cleaned_data["name"])
        messages.success(request, f"Token “{token.name}” created. Copy the key now: it is not shown again.")
        form = TokenForm()
    context = {
        "form": form,
        "new_key": new_key,
        "roles": sorted(request.user.groups.values_list("name", flat=True)),
        "tokens": ApiToken.objects.filter(user=request.user),
    }
    return render(request, "core/account.html", context)


@require_POST
@require_permission()
def revoke_token(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    revoke_api_token(actor=actor_of(request), token=token)
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("account")
