"""The page cache (docs/page-cache.md): pages the same for every anonymous
visitor, rendered once and then served from the shared cache (Valkey).

On with PAGE_CACHE=true. Views mark their pages with cache_anonymous_page;
PageCacheMiddleware, right after the health checks in MIDDLEWARE, stores them
with every header the rest of the middleware gave them (CSP, HSTS, Vary, ...)
and answers a later request for the same page itself, in one round trip to
the cache, before any other middleware or view runs.

Who: GET and HEAD requests without a session cookie get the stored page.
One with a session cookie (a cart, a log-in) gets it too, with the part of
the page between the personal markers of base.html rendered afresh for this
visitor, from personal.html; of the middleware chain, only what that part
needs runs, by Django's own methods: the session's, CSRF's and
authentication's. A page without that part is rendered whole. What is
stored: only a page rendered for a visitor without a session, a 200 whose
rendering set no cookie, used no CSRF token and no CSP nonce (both must be
fresh for each response), and whose view does not vary on Cookie.

The cache is the one Django's is (CACHES["default"]: its server and
options), reached through one redis-py client per process, not through
Django's cache API (docs/page-cache.md, "What a hit costs", says why).

Keys: the release (a fingerprint of the code and templates, so a new image
never serves the pages of the one before, which link static files it does
not have), the pages' version, and the URL in one canonical spelling: the
host in lower case without a trailing dot, and of the query string only the
parameters in QUERY_PARAMETERS, as whole numbers. Any other query string is
rendered and never stored, so that a flood of junk queries cannot evict the
real pages.

Invalidation: a save or delete of a model in PAGE_CACHE_MODELS, once its
transaction commits, and every `migrate` (each container start, a restore)
start a new version: every page stored before is stale. Changes that bypass
the ORM's signals (SQL, QuerySet.update()) show within PAGE_CACHE_SECONDS.

A cache that is away (stopped, refusing, timing out) is skipped by each
process for RETRY_SECONDS, with one warning each time: pages are rendered as
if there were no cache. An invalidation the cache does not take is tried
again before the process's next request, with an error logged. A hit needs no
database, so cached pages are still served while the database is away.

Each page a view marked says what happened in X-Cache: hit, miss (rendered,
and stored if it could be), personal (the stored page with the visitor's own
part), or bypass (rendered: a session and no stored page, or the cache away).
"""

import functools
import hashlib
import json
import logging
import os
import secrets
import time
from pathlib import Path

import redis
from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import DisallowedHost
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, DatabaseError, transaction
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver
from django.http import HttpResponse
from django.http.request import split_domain_port
from django.middleware.csp import get_nonce
from django.template.loader import render_to_string
from django.utils.cache import has_vary_header
from redis.exceptions import RedisError

from babyshop.config import ConfigError

logger = logging.getLogger(__name__)

VERSION_KEY = "pagecache:version"
# Seconds a process leaves the cache alone after it failed to answer.
RETRY_SECONDS = 10.0
# The query parameters a cached page may have (pagination), each a whole number.
QUERY_PARAMETERS = ("page",)
INVALIDATE_ATTEMPTS = 3
# The part of a page that differs between visitors, between these markers in
# base.html, and the template that renders it.
PERSONAL_START, PERSONAL_END = b"<!--personal-->", b"<!--/personal-->"
PERSONAL_TEMPLATE = "personal.html"
_skip_until = 0.0
# Set when an invalidation could not reach the cache.
_invalidation_pending = False


class PageCacheMiddleware:
    """Serves a stored page before the rest of the middleware runs (for a
    visitor with a session, with their personal part), and stores the pages
    the views marked, with every header the other middleware added."""

    def __init__(self, get_response):
        self.get_response = get_response
        # What a page's personal part needs of the chain, run by Django's own
        # methods (see _personal_copy). Imported here: health.py, which logging
        # loads before the apps are, imports this module.
        from django.contrib.auth.middleware import AuthenticationMiddleware
        from django.contrib.sessions.middleware import SessionMiddleware
        from django.middleware.csrf import CsrfViewMiddleware

        self.session = SessionMiddleware(get_response)
        self.csrf = CsrfViewMiddleware(get_response)
        self.authentication = AuthenticationMiddleware(get_response)

    def __call__(self, request):
        key = version = None
        if _invalidation_pending and time.monotonic() >= _skip_until:
            invalidate()
        if _readable(request):
            key, version, stored = _find(request)
            if settings.SESSION_COOKIE_NAME in request.COOKIES:
                key = None  # a page rendered for a visitor with a session is never stored
                response = stored and self._personal_copy(request, stored)
                if response:
                    return response
            elif stored:
                return _mark(HttpResponse(stored[2], headers=json.loads(stored[1])), "hit")
        response = self.get_response(request)
        if not hasattr(response, "same_for_anonymous_visitors"):
            return response  # not a page of cache_anonymous_page's
        if key is None:
            return _mark(response, "bypass")
        if _storable(request, response):
            try:
                client().set(key, _entry(version, response), ex=settings.PAGE_CACHE_SECONDS)
            except RedisError as error:
                _cache_away(error)
        return _mark(response, "miss")

    def _personal_copy(self, request, stored):
        """The stored page with its personal part rendered for this visitor,
        or None (the chain and the view then run as usual)."""
        parts = stored[2].split(PERSONAL_START)
        if len(parts) != 2 or parts[1].count(PERSONAL_END) != 1:
            return None  # no personal part, so nothing to tell visitors apart by
        after = parts[1].split(PERSONAL_END)[1]
        self.session.process_request(request)
        self.csrf.process_request(request)
        self.authentication.process_request(request)
        try:
            personal = render_to_string(PERSONAL_TEMPLATE, request=request).encode()
            content = b"".join((parts[0], PERSONAL_START, personal, PERSONAL_END, after))
            headers = json.loads(stored[1])
            if "Content-Length" in headers:
                headers["Content-Length"] = str(len(content))
            response = self.csrf.process_response(request, HttpResponse(content, headers=headers))
            response = self.session.process_response(request, response)
        except DatabaseError:
            return None  # the chain runs: a database that is away gets its 503 there
        return _mark(response, "personal")


def cache_anonymous_page(view):
    """Mark the view's pages as the same for every anonymous visitor, for
    PageCacheMiddleware to store, unless the view itself varies on Cookie."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.same_for_anonymous_visitors = not has_vary_header(response, "Cookie")
        return response

    return wrapper


def connect():
    """Invalidate on every save and delete of PAGE_CACHE_MODELS, and after
    every migrate (the apps' config calls this once the apps are loaded)."""
    for label in settings.PAGE_CACHE_MODELS:
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            raise ConfigError(
                f"PAGE_CACHE_MODELS names {label!r}, which is no installed model: "
                "expected 'app_label.ModelName'"
            ) from None
        post_save.connect(_changed, sender=model, dispatch_uid=f"pagecache:save:{label}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"pagecache:delete:{label}")
    # Sent once per app with models, whatever apps there are.
    post_migrate.connect(_changed, dispatch_uid="pagecache:migrate")


def _changed(using, **kwargs):
    pages_changed(using)


def pages_changed(using=DEFAULT_DB_ALIAS):
    """Every cached page is stale once the current transaction commits: for
    a change the ORM's signals do not see (QuerySet.update(), SQL). Not
    before the commit: a request could render the old rows again and store
    them under the new version."""
    if settings.PAGE_CACHE:
        transaction.on_commit(invalidate, using=using)


def invalidate():
    """Start a new version: every page stored so far is stale."""
    global _invalidation_pending  # one per process, shared by its threads
    for attempt in range(1, INVALIDATE_ATTEMPTS + 1):
        try:
            # A random version, never a counter: one that was evicted cannot
            # come back as a number that old pages are stored under.
            client().set(VERSION_KEY, _new_version())
        except RedisError as error:
            if attempt < INVALIDATE_ATTEMPTS:
                time.sleep(0.05 * attempt)
                continue
            _invalidation_pending = True
            logger.error(
                "page cache: a page's data changed but the cached pages could not be invalidated "
                "(%d attempts, %s: %s): tried again before this process's next request; until then "
                "anonymous visitors may get pages up to PAGE_CACHE_SECONDS=%s old",
                INVALIDATE_ATTEMPTS,
                type(error).__name__,
                error,
                settings.PAGE_CACHE_SECONDS,
            )
            _cache_away(error)
        else:
            _invalidation_pending = False
        return


@functools.cache
def client():
    """This process's client of the cache (its connections are shared by the
    process's threads), on the server and options of CACHES["default"]."""
    default = settings.CACHES["default"]
    pool = redis.ConnectionPool.from_url(default["LOCATION"], **default["OPTIONS"])
    return redis.Redis(connection_pool=pool)


@receiver(setting_changed)
def _cache_setting_changed(setting, **kwargs):
    if setting == "CACHES":  # the tests point it elsewhere
        client.cache_clear()


def _new_version():
    return secrets.token_hex(8)


def _readable(request):
    """A request a stored page may answer, while the cache is not skipped."""
    return request.method in ("GET", "HEAD") and time.monotonic() >= _skip_until


def _find(request):
    """(key, version, the stored entry if it is current): key is None if no
    stored page may answer the request, and then nothing is stored for it."""
    try:
        key = _key(request)
        if key is None:
            return None, None, None
        version, stored = _lookup(key)
    except DisallowedHost:
        return None, None, None  # the rest of the chain answers it as usual
    except RedisError as error:
        _cache_away(error)
        return None, None, None
    return key, version, stored if stored is not None and stored[0] == version else None


def _storable(request, response):
    return (
        response.same_for_anonymous_visitors
        and response.status_code == 200
        and not response.streaming
        and not response.cookies
        # A CSRF token was put on the page (Django >= 4.1 no longer sets
        # CSRF_COOKIE_USED): it belongs to this visitor's cookie alone.
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        # Django's lazy nonce is true once the page used it.
        and not get_nonce(request)
    )


def _key(request):
    """The page's key, or None for a query string no cached page has."""
    query = []
    for name, values in sorted(request.GET.lists()):
        if name not in QUERY_PARAMETERS or len(values) != 1 or not values[0].isascii():
            return None
        if not values[0].isdigit() or len(values[0]) > 9:
            return None
        query.append(f"{name}={int(values[0])}")
    # get_host() checks ALLOWED_HOSTS (DisallowedHost otherwise); the split
    # is Django's own, which lowers the case and drops a trailing dot.
    domain, port = split_domain_port(request.get_host())
    url = f"{request.scheme}://{domain}:{port}{request.path}?{'&'.join(query)}"
    return f"page:{_release()}:{hashlib.blake2b(url.encode(), digest_size=16).hexdigest()}"


def _lookup(key):
    """(current version, stored entry or None), in one round trip.

    An entry is [version, headers as JSON, content] (_entry): one stored
    under an older version is stale. The version is read before the page is
    rendered, so a page rendered during an edit is stored under the version
    the edit then replaces.
    """
    version, stored = client().mget([VERSION_KEY, key])
    if version is None:
        # Never set, or evicted: whichever process sets it first, all follow.
        new = _new_version()
        version = client().set(VERSION_KEY, new, nx=True, get=True) or new.encode()
    entry = [] if stored is None else stored.split(b"\n", 2)
    return version, entry if len(entry) == 3 else None


def _entry(version, response):
    """The page as stored: plain bytes, so that whoever can write to the cache
    cannot make this process run anything (as unpickling would)."""
    return b"\n".join((version, json.dumps(dict(response.headers)).encode(), response.content))


@functools.cache
def _release():
    """A fingerprint of this process's Python code, templates and static files."""
    base = Path(settings.BASE_DIR)
    skipped = {Path(settings.MEDIA_ROOT), Path(settings.STATIC_ROOT)}
    digest = hashlib.blake2b(digest_size=8)
    for root, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")) and Path(root, d) not in skipped)
        for name in sorted(files):
            if name.endswith((".py", ".html")):
                path = Path(root, name)
                digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes())
    # collectstatic's manifest (production): the hashed names pages link to.
    digest.update(getattr(staticfiles_storage, "manifest_hash", "").encode())
    return digest.hexdigest()


def _cache_away(error):
    global _skip_until  # one deadline per process, shared by its threads
    _skip_until = time.monotonic() + RETRY_SECONDS
    logger.warning(
        "page cache: the cache did not answer (%s: %s); pages are rendered without it for %gs",
        type(error).__name__,
        error,
        RETRY_SECONDS,
    )


def _mark(response, outcome):
    response["X-Cache"] = outcome
    return response
