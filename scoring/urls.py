"""This app's pages, mounted by config/urls.py."""

from django.urls import path  # noqa: F401

app_name = "scoring"
urlpatterns: list = []
