from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audits"
    default_auto_field = "django.db.models.BigAutoField"
