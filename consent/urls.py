"""This app's pages, mounted by config/urls.py at /consent/."""

from django.urls import path

from consent import views

app_name = "consent"
urlpatterns = [
    path("subjects/", views.subjects, name="subjects"),
    path("subjects/<uuid:key>/", views.subject, name="subject"),
    path("subjects/<uuid:key>/grant/", views.grant, name="grant"),
    path("subjects/<uuid:key>/withdraw/", views.withdraw, name="withdraw"),
    path("subjects/<uuid:key>/erase/", views.erase, name="erase"),
    path("import/", views.import_consent, name="import"),
    path("ledger/", views.ledger_check, name="ledger"),
    path("datasets/", views.datasets, name="datasets"),
    path("datasets/<int:pk>/", views.dataset, name="dataset"),
    path("datasets/<int:pk>/import/", views.import_dataset_items, name="import-items"),
]
