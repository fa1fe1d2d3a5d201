"""The page cache: catalog pages for anonymous visitors, from the shared cache.

A catalog page is the same for everyone who is not logged in, so it is
rendered once and then served from the cache (valkey) until the catalog
changes or PAGE_CACHE_SECONDS pass.

Who: GET and HEAD requests without a session cookie. A request with one may
be a logged-in user's, whose name is on the page: it is always rendered,
never read from nor written to the cache.

What is stored: only a 200 whose rendering set no cookie, used no CSRF token
and no CSP nonce (both must be fresh for each response), and that does not
vary on Cookie. Only the view's own response is stored: the headers of the
outer middleware (CSP, HSTS, ...) are added again to every response.

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
from django.http import HttpResponse
from django.utils.cache import has_vary_header, patch_vary_headers
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

VERSION_KEY = "pagecache:version"
# Seconds a process leaves the cache alone after it failed to answer.
RETRY_SECONDS = 10.0
_skip_until = 0.0


def cache_anonymous_page(view):
    """Serve the view's page from the cache to anonymous visitors (see above)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not _eligible(request):
            return _mark(view(request, *args, **kwargs), "bypass")
        try:
            key = _page_key(request)
            stored = cache.get(key)
        except RedisError as error:
            _cache_away(error)
            return _mark(view(request, *args, **kwargs), "bypass")
        if stored is not None:
            content, headers = stored
            response = HttpResponse(content, headers=headers)
            # A rendered page gets this from SessionMiddleware (the template
            # looks at request.user); a hit must tell HTTP caches the same.
            patch_vary_headers(response, ["Cookie"])
            return _mark(response, "hit")
        response = view(request, *args, **kwargs)
        # A TemplateResponse renders later, in the handler: render it now to
        # see what the page used before deciding whether to store it.
        if hasattr(response, "render"):
            response.render()
        if _storable(request, response):
            try:
                cache.set(key, (response.content, dict(response.headers)), settings.PAGE_CACHE_SECONDS)
            except RedisError as error:
                _cache_away(error)
        return _mark(response, "miss")

    return wrapper


def invalidate():
    """Start a new catalog version: every page stored so far is stale."""
    try:
        # A random version, never a counter: one that was evicted or lost
        # cannot come back as a number that old pages are stored under.
        cache.set(VERSION_KEY, secrets.token_hex(8), timeout=None)
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
        response.status_code == 200
        and not response.cookies
        # A CSRF token was put on the page (Django >= 4.1 no longer sets
        # CSRF_COOKIE_USED): it belongs to this visitor's cookie alone.
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        and not getattr(request, "csp_nonce", None)  # django-csp: true once the nonce was used
        and not has_vary_header(response, "Cookie")
    )


def _page_key(request):
    version = cache.get_or_set(VERSION_KEY, lambda: secrets.token_hex(8), timeout=None)
    url = hashlib.blake2b(request.build_absolute_uri().encode(), digest_size=16).hexdigest()
    return f"page:{_release()}:{version}:{url}"


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
