from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.api import api
from core import dashboard
from core import views as core_views

admin.site.site_header = "Bias-audit platform"
admin.site.site_title = "Bias-audit platform"
admin.site.index_title = "Consent, provenance and audits"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path(
        "sign-in/",
        auth_views.LoginView.as_view(template_name="core/sign_in.html", redirect_authenticated_user=True),
        name="sign-in",
    ),
    path("sign-out/", auth_views.LogoutView.as_view(), name="sign-out"),
    path("account/", core_views.account, name="account"),
    path("account/tokens/<int:token_id>/revoke/", core_views.revoke_token, name="revoke-token"),
    path("consent/", include("consent.urls")),
    path("scoring/", include("scoring.urls")),
    path("audit/", include("audit.urls")),
    path("reports/", include("reports.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("healthz", core_views.healthz, name="healthz"),
]

# A database that is locked or unreachable when a middleware reads it: the 503 page, not a 500 (core/faults.py).
handler500 = "core.faults.server_error"
