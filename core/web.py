"""What every page view shares: sign-in, role checks, and who the actor is."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from core.audit_log import Actor


def forbidden(request, message: str = "Your role does not give access to this page."):
    """A 403 page that says nothing about what it guards."""
    return render(request, "core/forbidden.html", {"message": message}, status=403)


def require_permission(*permissions: str):
    """Signed-out users go to sign-in; signed-in users without every permission get a bare 403."""

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not request.user.has_perms(permissions):
                return forbidden(request)
            return view(request, *args, **kwargs)

        guarded.required_permissions = permissions
        return guarded

    return decorate


def actor_of(request) -> Actor:
    return Actor.of_user(request.user)
