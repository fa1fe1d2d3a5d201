"""Settings for babyshop, read from the environment only.

Every variable is listed with a one-line comment in .env.example. A missing or
malformed value raises ConfigError (see babyshop/config.py), which manage.py
and the WSGI entry point report as one line without a traceback.
"""

import socket
from datetime import timedelta
from pathlib import Path

import environ
from django.utils.csp import CSP
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from babyshop import config

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = config.boolean("DEBUG", default=False)

# Used only when DEBUG is on and SECRET_KEY is unset (local development).
SECRET_KEY = config.secret_key(DEBUG, dev_fallback="dev-only-insecure-key-never-used-with-debug-off")

# The public host name, e.g. shop.example.com; the proxy gets certificates
# for it, and the two lists below default to it.
SITE_DOMAIN = config.site_domain("SITE_DOMAIN")

ALLOWED_HOSTS = config.string_list(
    "ALLOWED_HOSTS",
    default=[SITE_DOMAIN] if SITE_DOMAIN else (["localhost", "127.0.0.1", "[::1]"] if DEBUG else []),
)
if not ALLOWED_HOSTS:
    raise config.ConfigError(
        "ALLOWED_HOSTS is empty and SITE_DOMAIN is not set: set SITE_DOMAIN (or ALLOWED_HOSTS) "
        "to the host name the site answers to"
    )
CSRF_TRUSTED_ORIGINS = config.string_list(
    "CSRF_TRUSTED_ORIGINS", default=[f"https://{SITE_DOMAIN}"] if SITE_DOMAIN else []
)
for origin in CSRF_TRUSTED_ORIGINS:
    if not origin.startswith(("http://", "https://")):
        raise config.ConfigError(
            f"CSRF_TRUSTED_ORIGINS has {origin!r}: each origin needs its scheme, "
            "e.g. https://shop.example.com"
        )

# Behind the HTTPS proxy (on by default whenever DEBUG is off): trust its
# X-Forwarded-Proto, redirect plain HTTP, keep cookies on HTTPS only and
# tell browsers to come back over HTTPS (HSTS).
BEHIND_HTTPS_PROXY = config.boolean("BEHIND_HTTPS_PROXY", default=not DEBUG)
# `check --deploy` warns about every setting below that is off. Each is a
# choice .env.example offers, so make prod-up (which fails on any warning)
# must not refuse it: the warnings for what was turned off on purpose are
# silenced, and every other warning still stops a deploy.
SILENCED_SYSTEM_CHECKS = []
if not BEHIND_HTTPS_PROXY:
    # HTTPS is someone else's job (a proxy that redirects and sets HSTS itself).
    SILENCED_SYSTEM_CHECKS += ["security.W004", "security.W008", "security.W012", "security.W016"]
if BEHIND_HTTPS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # The __Host- prefix makes browsers refuse these cookies over HTTP, from
    # another path or when set by a subdomain.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_HSTS_SECONDS = config.integer("HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = config.boolean("HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = config.boolean("HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_SECONDS:
        SILENCED_SYSTEM_CHECKS += ["security.W004"]
    if not SECURE_HSTS_INCLUDE_SUBDOMAINS:
        SILENCED_SYSTEM_CHECKS += ["security.W005"]
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a commitment made on purpose (HSTS_PRELOAD=true).
        SILENCED_SYSTEM_CHECKS += ["security.W021"]
# Peers whose X-Forwarded-* headers are believed (gunicorn, and the client
# address used to throttle log-ins). "*" is right when, as in
# docker-compose.prod.yml, only the proxy can reach the web container.
FORWARDED_ALLOW_IPS = config.networks("FORWARDED_ALLOW_IPS", default="*")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Serve static files through WhiteNoise under runserver too, so that
    # development behaves like production.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "django_ratelimit",
    "django_tasks_db",
    "babyshop",
    "users",
    # demo: start
    "products",
    # demo: end
]

MIDDLEWARE = [
    # First: answers /healthz and /readyz before host validation and HTTPS
    # redirects, so container healthchecks work on 127.0.0.1.
    "babyshop.health.HealthCheckMiddleware",
    # Each request's id, and its line in the log (babyshop/logs.py).
    "babyshop.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A database that is down answers 503 at once instead of a 500.
    "babyshop.health.DatabaseUnavailableMiddleware",
    # Last, as django-axes requires: turns a lock-out into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "babyshop.urls"
WSGI_APPLICATION = "babyshop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # demo: start
                "products.context_processors.categories",
                "products.context_processors.cart",
                # demo: end
                "django.template.context_processors.csp",
            ],
        },
    },
]

# Without DATABASE_URL: the db service of the production compose file, as the
# user and database it was created with (POSTGRES_USER, POSTGRES_DB).
DATABASES = {
    "default": config.database(
        "DATABASE_URL",
        default="postgres://{}@db:5432/{}".format(
            config.string("POSTGRES_USER", "babyshop"), config.string("POSTGRES_DB", "babyshop")
        ),
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = config.integer("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Short, so that pages answer 503 quickly while the database is away.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = config.integer(
    "DB_CONNECT_TIMEOUT", default=2, minimum=1
)

# Django's cache ({% cache %} fragments, docs/performance.md): each process's
# own memory unless CACHE_URL names a shared one (the Valkey of the `cache`
# Compose profile). Fragments' keys carry the version of the rows they show,
# so either way no process serves one older than the database.
CACHE_URL = config.cache_url("CACHE_URL")
if CACHE_URL:
    CACHES = {
        "default": {
            **environ.Env.cache_url_config(CACHE_URL),
            "OPTIONS": {
                # Short: a cache that is away costs a page milliseconds, not seconds.
                "socket_connect_timeout": 0.25,
                "socket_timeout": 0.25,
                # A connection left idle may have been dropped on the way (a
                # swarm's load balancer forgets idle ones): keep-alives hold it
                # open, a PING checks one idle for 30 s before it is used, and
                # one that turns out closed is replaced once, at once. Timeouts
                # are not retried: a cache that is away must cost 0.25 s, not more.
                "socket_keepalive": True,
                "socket_keepalive_options": {
                    socket.TCP_KEEPIDLE: 60,
                    socket.TCP_KEEPINTVL: 10,
                    socket.TCP_KEEPCNT: 3,
                },
                "health_check_interval": 30,
                "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
                # The cache's password (production: the cache_password secret),
                # never in CACHE_URL, which shows in the environment.
                "password": config.string("CACHE_PASSWORD", None),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The counters of the throttles on password reset and registration
# (users/views.py, django-ratelimit): a table in PostgreSQL (migrate_locked
# creates it), so every process and replica counts in the same place,
# whether or not the Valkey above runs, and nothing evicts them early.
# django-ratelimit's check calls this backend's increments not atomic (a read
# then a write): users/views.py makes them one at a time, hence silenced.
CACHES["throttle"] = {
    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
    "LOCATION": "babyshop_throttle",
    # Beyond this many live counters, a third of them would be dropped.
    "OPTIONS": {"MAX_ENTRIES": 100_000},
}
RATELIMIT_USE_CACHE = "throttle"
RATELIMIT_IP_META_KEY = "babyshop.proxy.client_ip"
SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003", "django_ratelimit.W001"]

# Background tasks (django.tasks): rows in PostgreSQL, written in the same
# transaction as the data that caused them, run by the worker service
# (manage.py worker; docs/worker.md).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "email"],
    }
}
# Attempts of a failing task before it stays FAILED (the admin retries it),
# and the wait after the first failure, doubled after each (at most an hour):
# the defaults keep trying for about four hours.
TASK_MAX_ATTEMPTS = config.integer("TASK_MAX_ATTEMPTS", default=12, minimum=1)
TASK_RETRY_SECONDS = config.integer("TASK_RETRY_SECONDS", default=10, minimum=1)
# Jobs the worker queues on a schedule, exactly once per period however many
# workers run: task path -> seconds between runs (babyshop/schedule.py).
TASK_SCHEDULE = {
    "babyshop.schedule.clear_expired_sessions": 24 * 60 * 60,
    "babyshop.schedule.prune_finished_tasks": 24 * 60 * 60,
}
# Days a finished task is kept (failed ones are kept until dealt with).
TASK_KEEP_DAYS = config.integer("TASK_KEEP_DAYS", default=14, minimum=1)
# Seconds the worker waits before looking at an empty queue again.
WORKER_POLL_SECONDS = config.number("WORKER_POLL_SECONDS", default=1.0, minimum=0.05)
# Touched by the worker after each look at the queue; its healthcheck reads it.
WORKER_HEARTBEAT_FILE = config.string("WORKER_HEARTBEAT_FILE", default="/tmp/worker-heartbeat")  # noqa: S108

# Email. Every mail is queued (babyshop/mail.py) and sent by the worker over
# SMTP. Without SMTP_HOST the worker leaves mail in its queue, where it
# waits, never lost, until a server is configured.
SMTP_HOST = config.hostname("SMTP_HOST")
SMTP_SECURITY = config.choice("SMTP_SECURITY", ("STARTTLS", "TLS", "NONE"), "STARTTLS")
SMTP_USER = config.string("SMTP_USER", None)
# Production: the smtp_password secret, which make secrets leaves blank.
SMTP_PASSWORD = config.string("SMTP_PASSWORD", None, empty_file=True)
if SMTP_USER and not SMTP_PASSWORD:
    raise config.ConfigError(
        "SMTP_USER is set but SMTP_PASSWORD is not: put the password in the file SMTP_PASSWORD_FILE "
        "names (production: secrets/smtp_password)"
    )
MAILERS = {"default": {"BACKEND": "babyshop.mail.QueuedEmailBackend"}}
if SMTP_HOST:
    MAILERS["smtp"] = {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": SMTP_HOST,
            "port": config.integer(
                "SMTP_PORT", default={"TLS": 465, "STARTTLS": 587}.get(SMTP_SECURITY, 25), minimum=1
            ),
            "username": SMTP_USER,
            "password": SMTP_PASSWORD,
            "use_tls": SMTP_SECURITY == "STARTTLS",
            "use_ssl": SMTP_SECURITY == "TLS",
            # Seconds for each step of the conversation: a server that hangs
            # costs the worker this, then the mail is retried.
            "timeout": config.integer("SMTP_TIMEOUT", default=10, minimum=1),
        },
    }
# The queues the worker takes tasks from: mail only once it can be sent.
TASK_QUEUES = ["default", "email"] if SMTP_HOST else ["default"]
DEFAULT_FROM_EMAIL = config.email_address(
    "EMAIL_FROM", default=f"babyshop <shop@{SITE_DOMAIN or 'localhost'}>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

AUTH_USER_MODEL = "users.User"
# django-axes checks first: a locked-out client or username is refused before
# any password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = config.string("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(config.string("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Uploads are kept on the local disk (MEDIA_ROOT, a volume) or, with
# MEDIA_STORAGE=s3, in a private S3-compatible bucket (docs/object-storage.md);
# either way babyshop/media.py serves them under MEDIA_URL.
MEDIA_URL = "media/"
MEDIA_ROOT = Path(config.string("MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_STORAGE = config.choice("MEDIA_STORAGE", ("LOCAL", "S3"), "LOCAL")
STORAGES = {
    "default": (
        {"BACKEND": "babyshop.buckets.BucketStorage", "OPTIONS": config.bucket()}
        if MEDIA_STORAGE == "S3"
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    # Content-hashed names (cacheable forever) and gzip/brotli copies made by
    # collectstatic, served by WhiteNoise with far-future cache headers.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Only the hashed copies are kept ({% static %} links to nothing else): half
# the files for collectstatic to compress, and half the bytes in the image.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
# Uploads: a file over MAX_UPLOAD_SIZE gets a form error; a request body over
# MAX_REQUEST_BODY is refused before it is read (the proxy answers 413 for the
# same limit), so no request can fill the disk. An uploaded file stays in
# memory, never spooled to /tmp: a file over MAX_UPLOAD_SIZE (but within the
# body limit) is read only to be refused, and a few such uploads at once
# would fill web's small /tmp and make the real ones fail (ENOSPC). Images
# over MAX_IMAGE_PIXELS are refused from their header, never decoded
# (decompression bombs).
MAX_UPLOAD_SIZE = config.integer("MAX_UPLOAD_SIZE", default=10 * 1024 * 1024, minimum=1)
MAX_REQUEST_BODY = config.integer("MAX_REQUEST_BODY", default=11 * 1024 * 1024, minimum=1)
if MAX_REQUEST_BODY <= MAX_UPLOAD_SIZE:
    raise config.ConfigError(
        f"MAX_REQUEST_BODY={MAX_REQUEST_BODY} is not above MAX_UPLOAD_SIZE={MAX_UPLOAD_SIZE}: "
        "leave room for the form around the file (e.g. 1 MiB more)"
    )
MAX_IMAGE_PIXELS = config.integer("MAX_IMAGE_PIXELS", default=40_000_000, minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY
FILE_UPLOAD_HANDLERS = [
    "babyshop.uploads.RequestBodyLimit",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy on every page, the admin included: scripts, styles,
# images and fonts from this site only; no inline code, no eval (a template
# that needs an inline <script> gives it {% csp_nonce_attr %}). Neither our
# templates nor Django's admin need inline styles, so none are allowed.
SECURE_CSP = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "manifest-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
}
# Browser features this shop never uses, switched off for it and any frame.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}

# Log-in throttling (django-axes), for the site and the admin: after
# LOGIN_FAILURE_LIMIT failures for one username from one client address,
# further attempts at that username from that address are refused with a 429
# page for LOGIN_LOCKOUT_MINUTES without checking the password. The pair, not
# the username alone: else anyone could lock any user, the admin included,
# out from everywhere (docs/security.md says what this does not stop). A
# success forgets that pair's failures only;
# `manage.py axes_reset_username NAME` unlocks someone at once.
AXES_FAILURE_LIMIT = config.integer("LOGIN_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=config.integer("LOGIN_LOCKOUT_MINUTES", default=15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "babyshop.throttle.client_username"
AXES_CLIENT_IP_CALLABLE = "babyshop.proxy.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Its warnings name the username and address, as the access log does.
AXES_SENSITIVE_PARAMETERS = []

# Everything to stdout, one line per record, for `docker compose logs`: plain
# text, or one JSON object per line for a log collector (babyshop/logs.py).
LOG_LEVEL = config.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), "INFO")
LOG_FORMAT = config.choice("LOG_FORMAT", ("PLAIN", "JSON"), "PLAIN")

# Container start-up (entrypoint.sh runs `manage.py prestart`, which loads
# these settings, so a bad value anywhere stops the container before gunicorn).
MIGRATE_ON_START = config.boolean("MIGRATE_ON_START", default=True)
DB_WAIT_TIMEOUT = config.integer("DB_WAIT_TIMEOUT", default=60)
# demo: start
SEED_DEMO = config.boolean("SEED_DEMO", default=False)
# demo: end
# gunicorn (read by gunicorn.conf.py).
GUNICORN = {
    "port": config.integer("PORT", default=8000, minimum=1),
    "workers": config.integer("WEB_CONCURRENCY", default=2, minimum=1),
    "threads": config.integer("GUNICORN_THREADS", default=4, minimum=1),
    "timeout": config.integer("GUNICORN_TIMEOUT", default=30, minimum=1),
    "graceful_timeout": config.integer("GUNICORN_GRACEFUL_TIMEOUT", default=20),
    # Off by default: recycling a worker cuts the connections the proxy keeps
    # open to it, which stalled requests through Caddy for seconds under load
    # (make bench). Set it only if memory grows.
    "max_requests": config.integer("GUNICORN_MAX_REQUESTS", default=0),
}
# Metrics for Prometheus (babyshop/metrics.py, docs/monitoring.md), off
# unless METRICS_PORT is set: then web and the worker serve them on this port,
# which the proxy never routes to.
METRICS_PORT = config.integer("METRICS_PORT", default=None, minimum=1)
if METRICS_PORT is not None and (METRICS_PORT > 65535 or GUNICORN["port"] == METRICS_PORT):
    raise config.ConfigError(
        f"METRICS_PORT={METRICS_PORT} is not valid: expected a port number other than web's PORT, e.g. 9100"
    )
if METRICS_PORT:
    # Right after the request log.
    MIDDLEWARE.insert(2, "babyshop.metrics.MetricsMiddleware")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "babyshop.logs.JsonFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT.lower(),
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        # runserver's own line per request (development): RequestLogMiddleware
        # writes one already, so only its 4xx and 5xx lines stay.
        "django.server": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
        # django-axes narrates every attempt at INFO; failures and lock-outs are WARNINGs.
        "axes": {"level": "WARNING"},
    },
}

# Error reports (babyshop/errors.py, docs/operations.md): off unless
# SENTRY_DSN is set; started by apps.py as the process starts. The release is the image's git revision (REVISION).
SENTRY_DSN = config.sentry_dsn()
SENTRY_ENVIRONMENT = config.string("SENTRY_ENVIRONMENT", "production")
SENTRY_TRACES_SAMPLE_RATE = config.number("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_TRACES_SAMPLE_RATE > 1:
    raise config.ConfigError(
        f"SENTRY_TRACES_SAMPLE_RATE={SENTRY_TRACES_SAMPLE_RATE:g} is not valid: "
        "expected 0 (no traces) to 1 (every request)"
    )
REVISION = config.string("REVISION", "")
