from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed

        from core.sign_in import record_failed_sign_in

        # Writes the audit-log row only; axes (earlier in INSTALLED_APPS, so connected first) does the counting.
        user_login_failed.connect(record_failed_sign_in, dispatch_uid="core.sign_in.record_failed_sign_in")
