"""Strict readers for the environment variables the settings are built from.

django-environ parses the values; this module adds the checks it leaves out
(``bool("0")``-style surprises, malformed URLs) and turns every mistake into a
``ConfigError`` whose message is one line naming the variable and what is
expected. ``manage.py`` and the WSGI entry point print that line and exit
instead of showing a traceback. No message ever contains a secret's value.
"""

from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "pgsql"})
# Values that mean "nobody set a real key": the one in .env.example and
# Django's startproject prefix.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "django-insecure")
MIN_SECRET_KEY_LENGTH = 50

env = environ.Env()


class ConfigError(ImproperlyConfigured):
    """A setting is missing or malformed; the message is one line."""


def _raw(name):
    value = env.str(name, default=None)
    return None if value is None or value.strip() == "" else value.strip()


def boolean(name, default):
    """true/false/1/0/yes/no/on/off in any case; anything else is an error."""
    value = _raw(name)
    if value is None:
        return default
    word = value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean: use true or false (also 1/0, yes/no, on/off)")


def string(name, default):
    value = _raw(name)
    return default if value is None else value


def choice(name, choices, default):
    """One of a fixed set of words, compared case-insensitively."""
    value = _raw(name)
    if value is None:
        return default
    if value.upper() not in choices:
        raise ConfigError(f"{name}={value!r} is not valid: expected one of {', '.join(choices)}")
    return value.upper()


def integer(name, default, minimum=0):
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise ConfigError(f"{name}={value!r} is not valid: expected a whole number >= {minimum}")
    return number


def string_list(name, default):
    """A comma-separated list; blanks around items are ignored."""
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def secret_key(debug, dev_fallback):
    """SECRET_KEY: required and strong unless DEBUG is on."""
    value = _raw("SECRET_KEY")
    if value is None:
        if debug:
            return dev_fallback
        raise ConfigError(
            "SECRET_KEY is not set: set it to a random string of at least "
            f"{MIN_SECRET_KEY_LENGTH} characters (DEBUG is off)"
        )
    if not debug:
        if any(marker in value.lower() for marker in PLACEHOLDER_MARKERS):
            raise ConfigError(
                "SECRET_KEY is a placeholder: set it to a random string of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters (DEBUG is off)"
            )
        if len(value) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"SECRET_KEY is too short ({len(value)} characters): use at least "
                f"{MIN_SECRET_KEY_LENGTH} random characters (DEBUG is off)"
            )
    return value


def database(name="DATABASE_URL"):
    """A PostgreSQL URL, postgres://USER:PASSWORD@HOST:PORT/NAME."""
    value = _raw(name)
    expected = "expected postgres://USER:PASSWORD@HOST:PORT/NAME"
    if value is None:
        raise ConfigError(f"{name} is not set: {expected}")
    try:
        parts = urlsplit(value)
        port = parts.port
        host = parts.hostname
    except ValueError:
        # The URL may hold a password: never echo it.
        raise ConfigError(f"{name} is malformed: {expected}") from None
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ConfigError(f"{name} has scheme {parts.scheme or '(none)'!r}: {expected} (PostgreSQL only)")
    if not host or not parts.path.strip("/"):
        raise ConfigError(f"{name} lacks a host or a database name: {expected}")
    if port == 0:
        raise ConfigError(f"{name} has port 0: {expected}")
    config = env.db_url_config(value)
    config["ENGINE"] = "django.db.backends.postgresql"
    return config
