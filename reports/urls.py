"""This app's pages, mounted by config/urls.py at /reports/."""

from django.urls import path

from reports import views

app_name = "reports"
urlpatterns = [
    path("", views.report_list, name="list"),
    path("generate/", views.generate, name="generate"),
    path("verify/", views.verify, name="verify"),
    path("<slug:report_id>/", views.report_detail, name="detail"),
    path("<slug:report_id>/comments/", views.comment, name="comment"),
    path("<slug:report_id>/review/", views.review, name="review"),
    path("<slug:report_id>/approve/", views.approve, name="approve"),
    path("<slug:report_id>/return-to-draft/", views.return_to_draft, name="return-to-draft"),
    path("<slug:report_id>/pdf/", views.report_pdf, name="pdf"),
    path("<slug:report_id>/download/", views.download_pdf, name="download"),
]
