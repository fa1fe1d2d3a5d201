"""The page cache: catalog pages for anonymous visitors, from the shared cache.

A catalog page is the same for everyone who is not logged in, so it is
rendered once and then served from the cache (valkey) until the catalog
changes or PAGE_CACHE_SECONDS pass.

Who: GET and HEAD requests without a session cookie. A request with one may
be a logged-in user's, whose name is on the page: it is always rendered,
never read from nor written to the cache.

How: views mark their pages with cache_anonymous_page; PageCacheMiddleware,
second in MIDDLEWARE, stores them with all the headers the rest of the
middleware gave them (CSP, HSTS, Vary, ...), and answers a later request for
the same page itself, before any other middleware or view runs.

What is stored: only a 200 whose rendering set no cookie, used no CSRF token
and no CSP nonce (both must be fresh for each response), and whose view does
not vary on Cookie.

Keys: the release (a fingerprint of the code and templates, so a new image
never serves the previous release's pages, which link static files the new
image does not have), the catalog version, and the absolute URL with its
query string (pagination).

Invalidation: a save or delete of a product or category (the admin and its
list edits included) sets a new catalog version once its transaction commits,
and so does every `migrate` (each container start, a restore): the next
request renders afresh. Changes that bypass the ORM's signals (SQL,
QuerySet.update()) show within PAGE_CACHE_SECONDS.

A cache that is away (stopped, refusing, timing out) is skipped by each
process for RETRY_SECONDS, with one warning each time: pages are rendered as
if there were no cache. A hit needs no database, so cached pages are still
served while the database is down; everything else answers 503 as before.

Each page says what happened in X-Cache: hit, miss (rendered, and stored if
it could be), or bypass (a session cookie, not GET/HEAD, the page cache off
or the cache away).
"""

import functools
import hashlib
import logging
import os
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.http import HttpResponse
from django.utils.cache import has_vary_header
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

VERSION_KEY = "pagecache:version"
# Seconds a process leaves the cache alone after it failed to answer.
RETRY_SECONDS = 10.0
_skip_until = 0.0


class PageCacheMiddleware:
    """Serves a stored page before any other middleware runs, and stores the
    pages the views marked (cache_anonymous_page) with every header the other
    middleware added (CSP, HSTS, Vary, ...): a hit costs one round trip to
    the cache and none of the rest. Placed right after the health checks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = version = None
        if _eligible(request):
            try:
                key, version, stored = _lookup(request)
            except DisallowedHost:
                key = None  # the rest of the chain answers it as usual
            except RedisError as error:
                _cache_away(error)
                key = None
            else:
                if stored is not None and stored[0] == version:
                    return _mark(HttpResponse(stored[1], headers=stored[2]), "hit")
        response = self.get_response(request)
        if not hasattr(response, "same_for_anonymous_visitors"):
            return response  # not a page of cache_anonymous_page's
        if key is None:
            return _mark(response, "bypass")
        if _storable(request, response):
            try:
                cache.set(
                    key, (version, response.content, dict(response.headers)), settings.PAGE_CACHE_SECONDS
                )
            except RedisError as error:
                _cache_away(error)
        return _mark(response, "miss")


def cache_anonymous_page(view):
    """Mark the view's pages as the same for every anonymous visitor, for
    PageCacheMiddleware to store, unless the view itself varies on Cookie."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.same_for_anonymous_visitors = not has_vary_header(response, "Cookie")
        return response

    return wrapper


def new_version():
    return secrets.token_hex(8)


def invalidate():
    """Start a new catalog version: every page stored so far is stale."""
    try:
        # A random version, never a counter: one that was evicted or lost
        # cannot come back as a number that old pages are stored under.
        cache.set(VERSION_KEY, new_version(), timeout=None)
    except RedisError as error:
        _cache_away(error)


def _eligible(request):
    return (
        settings.PAGE_CACHE_SECONDS > 0
        and request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and time.monotonic() >= _skip_until
    )


def _storable(request, response):
    return (
        response.same_for_anonymous_visitors
        and response.status_code == 200
        and not response.streaming
        and not response.cookies
        # A CSRF token was put on the page (Django >= 4.1 no longer sets
        # CSRF_COOKIE_USED): it belongs to this visitor's cookie alone.
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not getattr(request, "csp_nonce", None)  # django-csp: true once the nonce was used
    )


def _lookup(request):
    """(key, current catalog version, stored entry or None), in one round trip.

    An entry is (version, content, headers): one stored under an older
    catalog version is stale. The version is read before the page is
    rendered, so a page rendered during an edit is stored under the version
    the edit then replaces.
    """
    url = hashlib.blake2b(request.build_absolute_uri().encode(), digest_size=16).hexdigest()
    key = f"page:{_release()}:{url}"
    found = cache.get_many([VERSION_KEY, key])
    version = found.get(VERSION_KEY) or cache.get_or_set(VERSION_KEY, new_version, timeout=None)
    return key, version, found.get(key)


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
