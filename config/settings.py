"""Settings, read from the environment (see README, "Configuration").

DEBUG is off unless DEBUG=1 turns it on (`make serve` and `make serve-demo` do); with it off, SECRET_KEY and
ALLOWED_HOSTS must be set, and `manage.py check --deploy` is clean. With DEBUG=1 the development defaults need
no other environment. The test suite gets its environment from pyproject.toml ([tool.pytest.ini_options] env).
"""

from datetime import timedelta
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

DEBUG = env_bool("DEBUG", False)

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
    # Before core, so that axes counts a failed sign-in before core writes its audit-log row (core/sign_in.py).
    "axes",
    "csp",
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
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A locked or unreachable database: a short 503 page with Retry-After (the API has its own JSON 503).
    "core.faults.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a sign-in that tripped the throttle into the sign-in page's 429.
    "axes.middleware.AxesMiddleware",
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
        # Seconds a statement waits for another connection's write lock before "database is locked".
        "timeout": env_int("SQLITE_TIMEOUT", 30, minimum=0),
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

# Sign-in throttling (django-axes): AXES_FAILURE_LIMIT failed sign-ins for one account from one address lock that
# account out from that address only, so a guesser at one address cannot lock the real user out from another;
# SIGN_IN_ADDRESS_FAILURE_LIMIT failures from one address, over all accounts, lock that address out. Both last
# SIGN_IN_COOL_OFF_SECONDS after the latest failure. Every failure is written to the audit log (core/sign_in.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
SIGN_IN_COOL_OFF_SECONDS = env_int("SIGN_IN_COOL_OFF_SECONDS", 15 * 60, minimum=1)
SIGN_IN_ADDRESS_FAILURE_LIMIT = env_int("SIGN_IN_ADDRESS_FAILURE_LIMIT", 30, minimum=1)
AXES_FAILURE_LIMIT = env_int("SIGN_IN_FAILURE_LIMIT", 5, minimum=1)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = timedelta(seconds=SIGN_IN_COOL_OFF_SECONDS)
AXES_HANDLER = "core.sign_in.AccountAndAddressHandler"
AXES_LOCKOUT_CALLABLE = "core.sign_in.locked_out"
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the failure that locked; attempts while locked out (even with the right password) are
# refused without extending it, so the page can say when sign-in opens again.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The address is the connection's (REMOTE_ADDR). Behind a reverse proxy, set SIGN_IN_PROXY_COUNT to the number
# of proxies in front of Django, and the address is read from X-Forwarded-For as those proxies wrote it.
_SIGN_IN_PROXY_COUNT = env_int("SIGN_IN_PROXY_COUNT", 0, minimum=0)
if _SIGN_IN_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = _SIGN_IN_PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
# Axes logs no start-up banner, and names in its log lines only the lock-out parameters (masked in any case).
AXES_VERBOSE = False

# API tokens: at most API_TOKEN_RATE_LIMIT requests a minute per token, then 429 with Retry-After. Counted in the
# default cache, which is per process: with several server processes, configure a shared cache (CACHES).
API_TOKEN_RATE_LIMIT = env_int("API_TOKEN_RATE_LIMIT", 600, minimum=1)

# A locked or unreachable database answers 503 with this Retry-After (seconds), pages and API alike.
DATABASE_UNAVAILABLE_RETRY_AFTER = env_int("DATABASE_UNAVAILABLE_RETRY_AFTER", 5, minimum=1)

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
# WhiteNoise warns on every start when STATIC_ROOT is missing; with the finders, it may well stay empty.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")
# Derived files (feature Parquet, score artifacts, reports) live apart from uploads.
ARTIFACT_ROOT = env_path("ARTIFACT_ROOT", VAR_DIR / "artifacts")
# Approved reports are signed (PAdES) with this key and certificate; `manage.py create_signing_key` makes a
# self-signed pair for a single machine, production points these at the organisation's own.
REPORT_SIGNING_KEY = env_path("REPORT_SIGNING_KEY", VAR_DIR / "signing" / "report-signing-key.pem")
REPORT_SIGNING_CERT = env_path("REPORT_SIGNING_CERT", VAR_DIR / "signing" / "report-signing-cert.pem")
REPORT_SIGNING_KEY_PASSPHRASE = env_str("REPORT_SIGNING_KEY_PASSPHRASE", "")
# Signed checkpoints of the consent ledger's head, kept outside the database (`manage.py ledger_checkpoint`,
# and a task every LEDGER_CHECKPOINT_INTERVAL seconds); signed with the key above.
LEDGER_CHECKPOINT_DIR = env_path("LEDGER_CHECKPOINT_DIR", VAR_DIR / "ledger-checkpoints")
LEDGER_CHECKPOINT_INTERVAL = env_int("LEDGER_CHECKPOINT_INTERVAL", 3600, minimum=60)
# PostgreSQL with two roles: DATABASE_URL is the application's role, which may only SELECT and INSERT the ledger;
# MIGRATION_DATABASE_URL, the owner's, is used by `manage.py migrate` alone, whose migrations grant
# DATABASE_APP_ROLE (by default DATABASE_URL's user) its rights. Unset, one role does everything.
_MIGRATION_DATABASE_URL = env_str("MIGRATION_DATABASE_URL", "").strip()
DATABASE_APP_ROLE = env_str("DATABASE_APP_ROLE", "").strip() or (
    DATABASES["default"]["USER"] if _MIGRATION_DATABASE_URL else ""
)
if _MIGRATION_DATABASE_URL:
    import sys  # noqa: E402 - only the migrate command connects as the owner

    _owner = env_database("MIGRATION_DATABASE_URL", _MIGRATION_DATABASE_URL)
    if "postgresql" not in _owner["ENGINE"] or "postgresql" not in DATABASES["default"]["ENGINE"]:
        raise ImproperEnvironment("MIGRATION_DATABASE_URL is for PostgreSQL; SQLite has no roles")
    if [_owner[k] for k in ("NAME", "HOST", "PORT")] != [DATABASES["default"][k] for k in ("NAME", "HOST", "PORT")]:
        raise ImproperEnvironment("MIGRATION_DATABASE_URL must name the same database, host and port as DATABASE_URL")
    if sys.argv[1:2] == ["migrate"]:
        DATABASES["default"].update(USER=_owner["USER"], PASSWORD=_owner["PASSWORD"])

DASK_SCHEDULER_ADDRESS = env_optional_url("DASK_SCHEDULER_ADDRESS")

# Who the platform acts for: named as controller in consent receipts and on reports.
ORGANISATION_NAME = env_str("ORGANISATION_NAME", "Example Org")
ORGANISATION_CONTACT = env_str("ORGANISATION_CONTACT", "privacy@example.org")
ORGANISATION_ADDRESS = env_str("ORGANISATION_ADDRESS", "")
PRIVACY_POLICY_URL = env_str("PRIVACY_POLICY_URL", "https://example.org/privacy")

# Largest image, in pixels, that an import decodes (decompression-bomb guard).
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 25_000_000, minimum=1)

# Uploads are cut off at their cap while they stream in (core/uploads.py); a view may give a field its own.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 25 * 1024**2, minimum=1024)  # any upload without its own cap
MAX_IMPORT_UPLOAD_BYTES = env_int("MAX_IMPORT_UPLOAD_BYTES", 200 * 1024**2, minimum=1024)  # consent, items
MAX_WEIGHTS_UPLOAD_BYTES = env_int("MAX_WEIGHTS_UPLOAD_BYTES", 512 * 1024**2, minimum=1024)  # safetensors
MAX_SCORES_UPLOAD_BYTES = env_int("MAX_SCORES_UPLOAD_BYTES", 100 * 1024**2, minimum=1024)  # precomputed scores
FILE_UPLOAD_HANDLERS = [
    "core.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# A request body other than files (form fields, JSON) is refused past this size.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024**2 // 2, minimum=1024)
# CSV, Parquet and SQL imports are decoded in batches and refused once they pass one of these.
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 2_000_000, minimum=1)
IMPORT_MAX_CELL_BYTES = env_int("IMPORT_MAX_CELL_BYTES", 8 * 1024, minimum=64)
IMPORT_MAX_DECODED_BYTES = env_int("IMPORT_MAX_DECODED_BYTES", 256 * 1024**2, minimum=1024)

# Audit runs are tasks (Django's Tasks API); `manage.py db_worker` executes them from the database.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# A running audit's worker beats every AUDIT_RUN_HEARTBEAT_SECONDS, from a thread of its own, whatever the run is
# computing. A run with no beat for AUDIT_RUN_STALE_AFTER seconds is failed (and can be retried) by the reaper,
# which every worker runs every AUDIT_RUN_REAP_INTERVAL seconds, idle or busy: a killed worker's run is failed at
# most STALE_AFTER + REAP_INTERVAL seconds after its last beat (105 s by default), while any worker lives.
AUDIT_RUN_HEARTBEAT_SECONDS = env_int("AUDIT_RUN_HEARTBEAT_SECONDS", 15, minimum=1)
AUDIT_RUN_STALE_AFTER = env_int("AUDIT_RUN_STALE_AFTER", 90, minimum=3)
AUDIT_RUN_REAP_INTERVAL = env_int("AUDIT_RUN_REAP_INTERVAL", 15, minimum=1)
if AUDIT_RUN_STALE_AFTER < 3 * AUDIT_RUN_HEARTBEAT_SECONDS:
    raise ImproperEnvironment(
        f"AUDIT_RUN_STALE_AFTER ({AUDIT_RUN_STALE_AFTER}) must be at least 3 x AUDIT_RUN_HEARTBEAT_SECONDS "
        f"({AUDIT_RUN_HEARTBEAT_SECONDS}), or a slow beat fails a live run"
    )
# `manage.py db_worker` waits this long after its database is first found locked or unreachable, doubling up to
# WORKER_DATABASE_RETRY_MAX seconds, and polls again; it never exits for it.
WORKER_DATABASE_RETRY_MIN = env_int("WORKER_DATABASE_RETRY_MIN", 1, minimum=1)
WORKER_DATABASE_RETRY_MAX = env_int("WORKER_DATABASE_RETRY_MAX", 30, minimum=1)

# Content-Security-Policy (django-csp): everything from this origin only; no inline script or style, no eval.
# htmx runs under it (templates/base.html turns off its injected indicator style and its eval), and charts are
# inlined with presentation attributes rather than style attributes (config/jinja2.py, `svg_without_styles`).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

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
        # django-axes announces every sign-in at INFO; its warnings (failures, lock-outs) mask name and address.
        "axes": {"level": "WARNING"},
        "weasyprint": {"handlers": ["weasyprint"], "propagate": False},
    },
}
