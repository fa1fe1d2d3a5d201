"""Settings for babyshop, read from the environment only.

Every variable is listed with a one-line comment in .env.example. A missing or
malformed value raises ConfigError (see babyshop/config.py), which manage.py
and the WSGI entry point report as one line without a traceback.
"""

from pathlib import Path

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
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a commitment made on purpose (HSTS_PRELOAD=true),
        # not a deploy-check warning to silence by default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

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
    "babyshop",
    "users",
    "products",
]

MIDDLEWARE = [
    # First: answers /healthz and /readyz before host validation and HTTPS
    # redirects, so container healthchecks work on 127.0.0.1.
    "babyshop.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
                "products.context_processors.categories",
            ],
        },
    },
]

DATABASES = {"default": config.database("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = config.integer("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = config.integer(
    "DB_CONNECT_TIMEOUT", default=5, minimum=1
)

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "products:list"
LOGOUT_REDIRECT_URL = "products:list"

LANGUAGE_CODE = "en-us"
TIME_ZONE = config.string("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(config.string("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(config.string("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Content-hashed names (cacheable forever) and gzip/brotli copies made by
    # collectstatic, served by WhiteNoise with far-future cache headers.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploads larger than this are refused by Django (bytes); 10 MB by default.
DATA_UPLOAD_MAX_MEMORY_SIZE = config.integer("MAX_UPLOAD_SIZE", default=10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Everything to stdout, one line per record, for `docker compose logs`.
LOG_LEVEL = config.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "filters": {"quiet_healthchecks": {"()": "babyshop.health.QuietHealthchecks"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "plain",
            "filters": ["quiet_healthchecks"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
    },
}
