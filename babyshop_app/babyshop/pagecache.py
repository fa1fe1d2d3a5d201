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
image does not have), the catalog version, and the URL in one canonical
spelling: the host in lower case without a trailing dot, and of the query
string only the parameters in QUERY_PARAMETERS, as whole numbers. A request
with any other query string is rendered and never stored: otherwise every
junk query (?page=%31, ?page=1&, ?x=…) would be a new entry, and a flood of
them would evict every real page.

Invalidation: a save or delete of a product or category (the admin and its
list edits included) sets a new catalog version once its transaction commits,
and so does every `migrate` (each container start, a restore): the next
request renders afresh. Changes that bypass the ORM's signals (SQL,
QuerySet.update()) show within PAGE_CACHE_SECONDS.

Two layers: each process keeps its own copies of the pages it served
(LOCAL_PAGES of them, for LOCAL_SECONDS at most) and answers from them
without asking the cache at all. That is safe because a new version is
announced on a channel every process subscribes to: valkey sends the
announcement to every subscriber in the same pass in which it answers the
edit's request for it, and each request first reads what arrived on its
process's subscription (a poll of a socket, no round trip), so a copy of an
older version is not served once the edit has been answered. A lost
subscription (redis-py reconnects, or the socket fails) forgets every copy;
one that goes silent can serve a copy for LOCAL_SECONDS at most, as each
copy is then checked against the shared cache again.

A cache that is away (stopped, refusing, timing out) is skipped by each
process for RETRY_SECONDS, with one warning each time: pages are rendered as
if there were no cache. An invalidation is tried INVALIDATE_ATTEMPTS times;
if all fail it is logged as an error and tried again before this process's
next request, since a cache that comes back still holds the old pages.
A hit needs no database, so cached pages are still served while the
database is down; everything else answers 503 as before.

Each page says what happened in X-Cache: hit, miss (rendered, and stored if
it could be), or bypass (a session cookie, not GET/HEAD, the page cache off
or the cache away).
"""

import functools
import hashlib
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.http import HttpResponse
from django.http.request import split_domain_port
from django.utils.cache import has_vary_header
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

VERSION_KEY = "pagecache:version"
# Where a new catalog version is announced to every process. Channels are
# per server, not per database: another site on the same valkey only makes
# this one read its version again.
CHANNEL = VERSION_KEY
# Seconds a process leaves the cache alone after it failed to answer.
RETRY_SECONDS = 10.0
_skip_until = 0.0
# A process's own copies: how many pages, and for how many seconds at most
# before a copy is checked against the shared cache again.
LOCAL_PAGES = 256
LOCAL_SECONDS = 5.0
# The query parameters a cached page may have (pagination), each a whole number.
QUERY_PARAMETERS = ("page",)
INVALIDATE_ATTEMPTS = 3
# Set when an invalidation could not reach the cache.
_invalidation_pending = False


class PageCacheMiddleware:
    """Serves a stored page before any other middleware runs, and stores the
    pages the views marked (cache_anonymous_page) with every header the other
    middleware added (CSP, HSTS, Vary, ...): a hit costs at most one round
    trip to the cache and none of the rest. Placed right after the health checks."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = version = None
        if _invalidation_pending and time.monotonic() >= _skip_until:
            invalidate()
        if _eligible(request):
            try:
                key = _key(request)
                page = None if key is None else _local.page(key)
                if page is None and key is not None:
                    version, stored = _lookup(key)
                    if stored is not None and stored[0] == version:
                        page = stored[1:]
                        _local.keep(key, version, page)
            except DisallowedHost:
                key = None  # the rest of the chain answers it as usual
            except RedisError as error:
                _cache_away(error)
                key = None
            else:
                if page is not None:
                    return _mark(HttpResponse(page[0], headers=page[1]), "hit")
        response = self.get_response(request)
        if not hasattr(response, "same_for_anonymous_visitors"):
            return response  # not a page of cache_anonymous_page's
        if key is None:
            return _mark(response, "bypass")
        if _storable(request, response):
            page = (response.content, dict(response.headers))
            try:
                cache.set(key, (version, *page), settings.PAGE_CACHE_SECONDS)
            except RedisError as error:
                _cache_away(error)
            else:
                _local.keep(key, version, page)
        return _mark(response, "miss")


class LocalPages:
    """This process's copies of pages, and the catalog version they are good
    for, kept current by the announcements on CHANNEL (see the module's
    docstring). Shared by the process's threads, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.subscription = None
        # None: not known yet (no confirmed subscription, or an announcement
        # arrived since); read from the cache once the subscription is confirmed.
        self.version = None
        self.confirmed = False
        self.pages = OrderedDict()  # key -> (version, expires, (content, headers))

    def page(self, key):
        """The copy of key's page, if it is of the current version."""
        with self.lock:
            try:
                version = self._current()
            except RedisError:
                # Subscribed again at the next request; whether the cache
                # itself is away, the shared lookup that follows tells.
                self._drop_subscription()
                return None
            entry = self.pages.get(key)
            if entry is None or entry[0] != version or entry[1] < time.monotonic():
                return None
            self.pages.move_to_end(key)
            return entry[2]

    def keep(self, key, version, page):
        """Keep a copy of a page found in, or just stored to, the shared cache
        under version."""
        with self.lock:
            if self.version is None:
                return
            if version != self.version:
                # An announcement is on its way, or one was lost: read the
                # version again rather than trust either.
                self._forget()
                return
            self.pages[key] = (version, time.monotonic() + LOCAL_SECONDS, page)
            self.pages.move_to_end(key)
            while len(self.pages) > LOCAL_PAGES:
                self.pages.popitem(last=False)

    def forget(self):
        """This process changed the version itself: read it again."""
        with self.lock:
            self._forget()

    def _forget(self, *, unconfirmed=False):
        """Drop every copy and the version (with the lock held); unconfirmed:
        the subscription must be confirmed again before the version is read."""
        self.version = None
        self.pages.clear()
        if unconfirmed:
            self.confirmed = False

    def _current(self):
        if self.subscription is None:
            client = getattr(cache, "redis", None)
            if client is None:
                return None  # a cache without publish/subscribe: no copies kept
            self.subscription = client().pubsub()
            self.subscription.subscribe(CHANNEL)
            # redis-py reconnects a broken subscription by itself: anything
            # announced meanwhile was lost, so everything is forgotten.
            self.subscription.connection.register_connect_callback(self._reconnected)
        # Whatever arrived since the last request: announcements, and the
        # confirmation of the subscription (after which the version is read).
        while (message := self.subscription.get_message(timeout=0)) is not None:
            self._forget()
            if message["type"] == "subscribe":
                self.confirmed = True
        if self.version is None and self.confirmed:
            self.version = _current_version()
        return self.version

    def _reconnected(self, connection):
        # Called by redis-py while this object's lock is held (in _current).
        self._forget(unconfirmed=True)

    def _drop_subscription(self):
        if self.subscription is not None:
            if self.subscription.connection is not None:
                self.subscription.connection.deregister_connect_callback(self._reconnected)
            self.subscription.close()
        self.subscription = None
        self._forget(unconfirmed=True)


_local = LocalPages()


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
    global _invalidation_pending  # one per process, shared by its threads
    for attempt in range(1, INVALIDATE_ATTEMPTS + 1):
        try:
            # A random version, never a counter: one that was evicted or lost
            # cannot come back as a number that old pages are stored under.
            cache.set(VERSION_KEY, new_version(), timeout=None)
            _announce()
        except RedisError as error:
            if attempt < INVALIDATE_ATTEMPTS:
                time.sleep(0.05 * attempt)
                continue
            _invalidation_pending = True
            logger.error(
                "page cache: the catalog changed but the cached pages could not be invalidated "
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
        break
    _local.forget()


def _announce():
    """Tell every process that the version changed: each reads it afresh."""
    client = getattr(cache, "redis", None)
    if client is not None:
        client(write=True).publish(CHANNEL, b"")


def _current_version():
    # Never set, or evicted: set afresh (by one process; the others' copies
    # stay right, nothing was edited, and follow at their next shared lookup).
    return cache.get_or_set(VERSION_KEY, new_version, timeout=None)


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
    """(current catalog version, stored entry or None), in one round trip.

    An entry is (version, content, headers): one stored under an older
    catalog version is stale. The version is read before the page is
    rendered, so a page rendered during an edit is stored under the version
    the edit then replaces.
    """
    found = cache.get_many([VERSION_KEY, key])
    version = found.get(VERSION_KEY) or _current_version()
    return version, found.get(key)


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
