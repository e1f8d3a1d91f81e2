from django.contrib import admin
from django.urls import path

from core.views import healthz

admin.site.site_header = "Bias-audit platform"
admin.site.site_title = "Bias-audit platform"
admin.site.index_title = "Consent, provenance and audits"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
