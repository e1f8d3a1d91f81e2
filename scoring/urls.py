"""This app's pages, mounted at /scoring/ by config/urls.py."""

from django.urls import path

from scoring import views

app_name = "scoring"
urlpatterns = [
    path("evaluation-sets/", views.evaluation_sets, name="evaluation-sets"),
    path("evaluation-sets/new/", views.evaluation_set_new, name="evaluation-set-new"),
    path("evaluation-sets/<int:pk>/", views.evaluation_set, name="evaluation-set"),
    path("evaluation-sets/<int:pk>/freeze/", views.freeze_evaluation_set, name="evaluation-set-freeze"),
    path("models/", views.model_versions, name="models"),
    path("models/new/", views.model_new, name="model-new"),
]
