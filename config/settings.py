"""Settings, read from the environment (see README, "Configuration").

Development defaults need no environment at all. A production deployment sets DEBUG=0,
SECRET_KEY and ALLOWED_HOSTS; with those, `manage.py check --deploy` is clean.
"""

from pathlib import Path

from config.env import (
    ImproperEnvironment,
    env_bool,
    env_database,
    env_int,
    env_list,
    env_optional_url,
    env_path,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("VAR_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", True)

_DEV_SECRET = "dev-only-insecure-key-never-use-in-production-0123456789abcdefghijkl"  # noqa: S105 - refused below unless DEBUG
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else None)
if not DEBUG and (not SECRET_KEY.strip() or SECRET_KEY == _DEV_SECRET):
    raise ImproperEnvironment("SECRET_KEY must be set to a secret value when DEBUG is off")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperEnvironment("ALLOWED_HOSTS must be set when DEBUG is off")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "core",
    "consent",
    "scoring",
    "audit",
    "reports",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# Our own pages use Jinja2 (templates/<app>/...); Django templates serve only the built-in admin.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "config.jinja2.environment"},
    },
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'platform.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets readers work while an import writes; IMMEDIATE avoids lock upgrades mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        # A larger page cache keeps bulk imports from thrashing the unique indexes.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;"
        ),
    }
# Keep a connection between requests (seconds; 0 closes it after each one). A new connection re-reads the
# schema, and on SQLite closing the last one checkpoints the WAL: with 0, a consent write through the API
# takes about 12 ms of server CPU instead of 8 (bench/api_consent_load.py).
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every app's migrations live in the top-level migrations/ package.
MIGRATION_MODULES = {
    "core": "migrations.core",
    "consent": "migrations.consent",
    "scoring": "migrations.scoring",
    "audit": "migrations.audit",
    "reports": "migrations.reports",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "sign-in"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "sign-in"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files in every setting (runserver, gunicorn, browser tests) straight from
# the finders, so no collectstatic step stands between a clone and a working page.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_ROOT = env_path("STATIC_ROOT", VAR_DIR / "static")
MEDIA_URL = "media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")
# Derived files (feature Parquet, score artifacts, reports) live apart from uploads.
ARTIFACT_ROOT = env_path("ARTIFACT_ROOT", VAR_DIR / "artifacts")
# Approved reports are signed (PAdES) with this key and certificate; `manage.py create_signing_key` makes a
# self-signed pair for a single machine, production points these at the organisation's own.
REPORT_SIGNING_KEY = env_path("REPORT_SIGNING_KEY", VAR_DIR / "signing" / "report-signing-key.pem")
REPORT_SIGNING_CERT = env_path("REPORT_SIGNING_CERT", VAR_DIR / "signing" / "report-signing-cert.pem")
REPORT_SIGNING_KEY_PASSPHRASE = env_str("REPORT_SIGNING_KEY_PASSPHRASE", "")

DASK_SCHEDULER_ADDRESS = env_optional_url("DASK_SCHEDULER_ADDRESS")

# Who the platform acts for: named as controller in consent receipts and on reports.
ORGANISATION_NAME = env_str("ORGANISATION_NAME", "Example Org")
ORGANISATION_CONTACT = env_str("ORGANISATION_CONTACT", "privacy@example.org")
ORGANISATION_ADDRESS = env_str("ORGANISATION_ADDRESS", "")
PRIVACY_POLICY_URL = env_str("PRIVACY_POLICY_URL", "https://example.org/privacy")

# Largest image, in pixels, that an import decodes (decompression-bomb guard).
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 25_000_000, minimum=1)

# Audit runs are tasks (Django's Tasks API); `manage.py db_worker` executes them from the database.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# A running audit whose worker has given no sign of life for this long is failed (and can be retried).
AUDIT_RUN_STALE_AFTER = env_int("AUDIT_RUN_STALE_AFTER", 3600, minimum=60)

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_raw_log_level = env_str("LOG_LEVEL", "INFO")
LOG_LEVEL = _raw_log_level.strip().upper()
if LOG_LEVEL not in _LOG_LEVELS:
    raise ImproperEnvironment(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}; got {_raw_log_level!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "weasyprint": {"class": "logging.StreamHandler", "filters": ["no_subsetting_notice"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "filters": {"no_subsetting_notice": {"()": "config.logging.DropMessagesContaining", "text": "HarfBuzz-Subset"}},
    # WeasyPrint's font subsetting logs every table of every font at INFO, and, without Debian's
    # libharfbuzz-subset0, a notice per font per report that it falls back to fontTools; its
    # progress logger announces each rendering step of each page at INFO.
    "loggers": {
        "fontTools": {"level": "WARNING"},
        "weasyprint.progress": {"level": "WARNING"},
        "weasyprint": {"handlers": ["weasyprint"], "propagate": False},
    },
}
