"""This app's pages, mounted at /audit/ by config/urls.py."""

from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    path("policies/", views.policy_list, name="policies"),
    path("policies/new/", views.policy_new, name="policy-new"),
    path("runs/", views.run_list, name="runs"),
    path("runs/new/", views.run_new, name="run-new"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run-progress"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
    path("runs/<int:pk>/retry/", views.run_retry, name="run-retry"),
    path("runs/<int:pk>/evidence.json", views.run_evidence, name="run-evidence"),
    path("runs/<int:pk>/scores.csv", views.run_scores, name="run-scores"),
]
