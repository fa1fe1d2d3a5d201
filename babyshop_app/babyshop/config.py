"""Strict readers for the environment variables the settings are built from.

Values are read from os.environ, or from the file named by NAME_FILE (Docker
secrets); django-environ parses database URLs. This module adds the checks
that are usually left out (``bool("0")``-style surprises, malformed URLs,
placeholder secrets) and turns every mistake into a
``ConfigError`` whose message is one line naming the variable and what is
expected. ``reported()`` turns it into ``configuration error: …`` on stderr
and a non-zero exit, for manage.py, the WSGI entry point and gunicorn.conf.py
alike: no traceback. No message ever contains a secret's value.
"""

import ipaddress
import math
import os
import re
import sys
from contextlib import contextmanager
from email.utils import parseaddr
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "pgsql"})
# Django's RedisCache over TCP, or TLS (a cache on another host).
REDIS_SCHEMES = frozenset({"redis", "rediss"})
# Values that mean "nobody set a real key": the one in .env.example and
# Django's startproject prefix.
PLACEHOLDER_MARKERS = ("change-me", "changeme", "django-insecure")
MIN_SECRET_KEY_LENGTH = 50


class ConfigError(ImproperlyConfigured):
    """A setting is missing or malformed; the message is one line."""


@contextmanager
def reported():
    """Exit with the one-line message of a ConfigError raised inside, no traceback."""
    try:
        yield
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")


# A bare host name: letters, digits and hyphens in dot-separated labels.
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


# django-environ's FileAwareEnv reads NAME from the file named by NAME_FILE
# (Docker secrets). Its mapping is used on its own, uncached: Env.get_value
# would also take a value starting with "$" as the name of another variable,
# a trap for passwords.
ENVIRON = environ.FileAwareMapping(cache=False)


def _raw(name, empty_file=False):
    """NAME, or the content of the file named by NAME_FILE; None when unset or blank.

    Setting both forms is an error rather than a silent choice, and a file
    that cannot be read is named in one line; so is an empty one, unless
    empty_file (a secret that may be left empty).
    """
    path = os.environ.get(f"{name}_FILE", "").strip()
    if path and os.environ.get(name, "").strip():
        raise ConfigError(f"both {name} and {name}_FILE are set: set only one of them")
    where = f"{name}_FILE={path!r}"
    try:
        value = ENVIRON.get(name, "").strip()
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file (expected a file holding {name})") from None
    except IsADirectoryError:
        raise ConfigError(f"{where} is a directory: point it at the file holding {name}") from None
    except PermissionError:
        raise ConfigError(
            f"{where} cannot be read by uid {os.getuid()}: give that user read access to it"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where} cannot be read ({type(exc).__name__})") from None
    if path and not value and not empty_file:
        raise ConfigError(f"{where} is empty: it must hold {name}")
    return value or None


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


def string(name, default, empty_file=False):
    value = _raw(name, empty_file)
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
    return _number(name, default, minimum, int, "a whole number")


def number(name, default, minimum=0.0):
    """A decimal number such as 0.5."""
    return _number(name, default, minimum, float, "a number")


def _number(name, default, minimum, parse, expected):
    value = _raw(name)
    if value is None:
        return default
    try:
        number = parse(value)
    except ValueError:
        number = None
    if number is None or not math.isfinite(number) or number < minimum:
        raise ConfigError(f"{name}={value!r} is not valid: expected {expected} >= {minimum}")
    return number


def string_list(name, default):
    """A comma-separated list; blanks around items are ignored."""
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def networks(name, default):
    """Comma-separated IP addresses or networks (CIDR), or "*" for any.

    Returns None for "*", else a list of ip_network objects.
    """
    value = _raw(name) or default
    if value.strip() == "*":
        return None
    try:
        return [ipaddress.ip_network(item.strip(), strict=False) for item in value.split(",") if item.strip()]
    except ValueError:
        raise ConfigError(
            f"{name}={value!r} is not valid: expected * or comma-separated IP addresses or "
            "networks, e.g. 172.18.0.0/16"
        ) from None


def secret_key(debug, dev_fallback):
    """SECRET_KEY: required and strong unless DEBUG is on."""
    value = _raw("SECRET_KEY")
    if value is None:
        if debug:
            return dev_fallback
        raise ConfigError(
            "SECRET_KEY is not set: set SECRET_KEY_FILE (or SECRET_KEY) to a random string of at least "
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


def hostname(name, example="smtp.example.com"):
    """A host name or IPv4 address (no scheme, port or path), or None when unset."""
    value = _raw(name)
    if value is None:
        return None
    if not HOSTNAME.match(value.lower()):
        raise ConfigError(
            f"{name}={value!r} is not a host name: expected e.g. {example} (no scheme, port or path)"
        )
    return value.lower()


def site_domain(name="SITE_DOMAIN"):
    """The public host name, or None when unset."""
    return hostname(name, example="shop.example.com or localhost")


def email_address(name, default):
    """An address mail is sent from: shop@example.com or "Name <shop@example.com>"."""
    value = _raw(name) or default
    _, address = parseaddr(value)
    try:
        validate_email(address)
    except ValidationError:
        raise ConfigError(
            f"{name}={value!r} is not an email address: expected e.g. shop@example.com "
            'or "Shop <shop@example.com>"'
        ) from None
    return value


def _server_url(name, value, schemes, expected):
    """The parts of a server's URL with one of these schemes, a host and a port
    other than 0; a ConfigError naming the variable (never the value, which
    may hold a password) otherwise."""
    try:
        parts = urlsplit(value)
        port, host = parts.port, parts.hostname
    except ValueError:
        raise ConfigError(f"{name} is malformed: {expected}") from None
    if parts.scheme not in schemes:
        raise ConfigError(f"{name} has scheme {parts.scheme or '(none)'!r}: {expected}")
    if not host:
        raise ConfigError(f"{name} lacks a host: {expected}")
    if port == 0:
        raise ConfigError(f"{name} has port 0: {expected}")
    return parts


def sentry_dsn(name="SENTRY_DSN"):
    """A Sentry DSN, https://KEY@HOST/PROJECT (SENTRY_DSN or SENTRY_DSN_FILE);
    None when unset. Its key is never shown in an error."""
    value = _raw(name)
    if value is None:
        return None
    expected = "expected the project's DSN, e.g. https://KEY@o1.ingest.sentry.io/42"
    parts = _server_url(name, value, ("https", "http"), expected)
    if not parts.username:
        raise ConfigError(f"{name} lacks its key (https://KEY@...): {expected}")
    if not re.fullmatch(r"/(?:[^/]+/)*\d+", parts.path):
        raise ConfigError(f"{name} lacks its project number at the end of the path: {expected}")
    return value


def database(name="DATABASE_URL", password_name="DATABASE_PASSWORD", default=None):  # noqa: S107 (a variable's name)
    """A PostgreSQL URL, postgres://USER:PASSWORD@HOST:PORT/NAME (default when unset).

    The password may instead come from DATABASE_PASSWORD or, better, from the
    secret file named by DATABASE_PASSWORD_FILE; it then replaces the URL's.
    """
    value = _raw(name) or default
    expected = "expected postgres://USER:PASSWORD@HOST:PORT/NAME"
    if value is None:
        raise ConfigError(f"{name} is not set: {expected}")
    parts = _server_url(name, value, POSTGRES_SCHEMES, f"{expected} (PostgreSQL only)")
    if not parts.path.strip("/"):
        raise ConfigError(f"{name} lacks a host or a database name: {expected}")
    config = environ.Env.db_url_config(value)
    config["ENGINE"] = "django.db.backends.postgresql"
    password = _raw(password_name)
    if password is not None:
        config["PASSWORD"] = password
    return config


def cache_url(name="CACHE_URL"):
    """A Redis-protocol URL (valkey), redis://HOST:PORT/DB; None when unset.

    Only its shape is checked here: whether the cache answers is a matter for
    run time, where a cache that is away is skipped, never an error.
    """
    value = _raw(name)
    if value is None:
        return None
    expected = "expected redis://HOST:PORT/DB, e.g. redis://cache:6379/0"
    parts = _server_url(name, value, REDIS_SCHEMES, expected)
    if not re.fullmatch(r"/?\d*", parts.path):
        raise ConfigError(f"{name} has database {parts.path.lstrip('/')!r}: {expected} (a number)")
    return value


# S3's rule for bucket names: 3-63 lowercase letters, digits, dots and hyphens.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def bucket():
    """The S3_* settings of MEDIA_STORAGE=s3, as django-storages' options.

    S3_BUCKET and both keys are required (the secret best from the file named
    by S3_SECRET_ACCESS_KEY_FILE); S3_ENDPOINT_URL is unset for AWS itself,
    else the provider's https://HOST (http:// only on a private network).
    """
    name = _raw("S3_BUCKET")
    if name is None:
        raise ConfigError("S3_BUCKET is not set: MEDIA_STORAGE=s3 needs the name of a private bucket")
    if not BUCKET_NAME.match(name):
        raise ConfigError(
            f"S3_BUCKET={name!r} is not a bucket name: "
            "expected 3-63 lowercase letters, digits, dots and hyphens"
        )
    endpoint = _raw("S3_ENDPOINT_URL")
    if endpoint is not None:
        expected = "expected the provider's https://HOST[:PORT], or nothing for AWS"
        parts = _server_url("S3_ENDPOINT_URL", endpoint, ("https", "http"), expected)
        if parts.username or parts.password or parts.path.strip("/") or parts.query:
            raise ConfigError(f"S3_ENDPOINT_URL has more than a scheme, host and port: {expected}")
    options = {
        "bucket_name": name,
        "endpoint_url": endpoint,
        "region_name": string("S3_REGION", "us-east-1"),
    }
    for option, variable in (("access_key", "S3_ACCESS_KEY_ID"), ("secret_key", "S3_SECRET_ACCESS_KEY")):
        options[option] = _raw(variable)
        if options[option] is None:
            raise ConfigError(
                f"{variable} is not set: MEDIA_STORAGE=s3 needs the bucket's keys "
                "(the secret key best in the file named by S3_SECRET_ACCESS_KEY_FILE)"
            )
    return options
