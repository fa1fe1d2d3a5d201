"""The page cache (babyshop/pagecache.py) against the real valkey of the dev
compose: what is served from it, to whom, what is never stored, how edits
invalidate it, and what happens when the cache is away.

transaction=True: the invalidation runs when a transaction commits, so these
tests commit as a server does.
"""

import logging
import re
import socket
import threading
import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path
from django.views.decorators.vary import vary_on_cookie
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from babyshop import health, pagecache
from products.models import Category, Product
from users.views import RegisterView

pytestmark = pytest.mark.django_db(transaction=True)

CATALOG_PAGES = ["/", "/category/toys/", "/products/soft-rattle/"]


@pytest.fixture(autouse=True)
def page_cache(settings, monkeypatch):
    """The page cache on (DEBUG turns it off in development), an empty cache,
    no copies kept by this process and no memory of a cache that was away."""
    settings.PAGE_CACHE_SECONDS = 300
    monkeypatch.setattr(pagecache, "_skip_until", 0.0)
    monkeypatch.setattr(pagecache, "_local", pagecache.LocalPages())
    monkeypatch.setattr(health, "cache_ready", health.Readiness(health.cache_answers, health.READYZ_INTERVAL))
    cache.clear()


@pytest.fixture
def rattle(make_product):
    return make_product(name="Soft Rattle", slug="soft-rattle", price=Decimal("8.50"))


@pytest.fixture
def cache_away(settings):
    """The cache configured at a port where nothing listens."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://cache:1/0"}}


def outcomes(client, url, times=2):
    return [client.get(url)["X-Cache"] for _ in range(times)]


@pytest.mark.parametrize("url", CATALOG_PAGES)
def test_the_second_anonymous_request_is_a_hit(client, rattle, url):
    """The same page, from the cache, with the outer middleware's headers
    added afresh (CSP, Vary: Cookie); HEAD is served from it too."""
    miss, hit = client.get(url), client.get(url)
    assert (miss.status_code, miss["X-Cache"]) == (200, "miss")
    assert (hit.status_code, hit["X-Cache"]) == (200, "hit")
    assert hit.content == miss.content
    assert b"Soft Rattle" in hit.content
    for header in ("Content-Type", "Content-Security-Policy", "Permissions-Policy", "X-Frame-Options"):
        assert hit[header] == miss[header], header
    assert "Cookie" in hit["Vary"]
    assert not hit.cookies
    assert client.head(url)["X-Cache"] == "hit"


def test_pages_are_kept_apart_by_query_string_and_host(client, make_product):
    for number in range(13):
        make_product(name=f"P{number:02d}")
    first, second = client.get("/"), client.get("/?page=2")
    assert second["X-Cache"] == "miss"
    assert b"P00" in second.content
    assert b"P00" not in first.content
    assert client.get("/", HTTP_HOST="localhost")["X-Cache"] == "miss"
    assert client.get("/?page=2")["X-Cache"] == "hit"


def test_a_page_of_another_release_is_not_served(client, rattle, monkeypatch):
    """A deploy must not serve the previous release's pages (which link its
    static files): the release fingerprint is part of the key."""
    assert outcomes(client, "/") == ["miss", "hit"]
    monkeypatch.setattr(pagecache, "_release", lambda: "another-release")
    assert outcomes(client, "/") == ["miss", "hit"]


def test_the_cache_backend_keeps_its_redis_client():
    """Django's RedisCache makes a redis.Redis for every call (some 40 µs of
    CPU each); babyshop.cache.RedisCache makes one and keeps it."""
    assert cache.redis() is cache.redis()
    assert cache.redis(write=True) is cache.redis()


@pytest.fixture
def shared_cache_fails(monkeypatch):
    """Every read of a page from the shared cache fails from now on."""

    def fail(keys):
        raise RedisConnectionError("the test made the shared cache fail")

    return lambda: monkeypatch.setattr(cache, "get_many", fail)


def local_hits(client, url):
    """Requests until the process answers url from its own copy: the first
    renders, the second confirms the subscription, the third keeps the copy."""
    assert outcomes(client, url, times=3) == ["miss", "hit", "hit"]


def another_process_edits():
    """What an edit in another process does: a new version, announced."""
    cache.set(pagecache.VERSION_KEY, "another-process", timeout=None)
    pagecache._announce()


def test_a_process_answers_hits_from_its_own_copy(client, rattle, shared_cache_fails):
    """Once the subscription is confirmed, a hit needs no round trip to the
    shared cache: with its reads failing, the page is still a hit."""
    local_hits(client, "/")
    shared_cache_fails()
    assert outcomes(client, "/") == ["hit", "hit"]
    assert client.get("/category/toys/")["X-Cache"] == "bypass", "another page needs the shared cache"


def test_an_edit_in_another_process_is_seen_at_once(client, rattle):
    """The announcement on the channel makes this process drop its copies
    before its next answer."""
    local_hits(client, "/")
    another_process_edits()
    assert client.get("/")["X-Cache"] == "miss"
    assert outcomes(client, "/", times=3) == ["hit", "hit", "hit"]


@pytest.mark.parametrize("retries", [0, 2], ids=["no-retries", "redis-py-reconnects"])
def test_a_lost_subscription_forgets_the_copies(client, rattle, settings, retries):
    """Valkey drops the subscription (a restart, a network cut), and an edit
    is made while nobody listens: whether the read fails or redis-py
    reconnects by itself (with retries configured), this process must not
    answer from the copies it had."""
    default = settings.CACHES["default"]
    retry = Retry(NoBackoff(), retries)
    settings.CACHES = {"default": {**default, "OPTIONS": {**default["OPTIONS"], "retry": retry}}}
    local_hits(client, "/")
    cache.redis().client_kill_filter(_type="pubsub")
    cache.set(pagecache.VERSION_KEY, "changed-while-nobody-listened", timeout=None)
    assert client.get("/")["X-Cache"] == "miss"
    assert outcomes(client, "/", times=3)[-1] == "hit"


def test_a_reconnect_forgets_the_copies_before_it_is_confirmed(client, rattle, monkeypatch):
    """redis-py's own reconnect (what it does on a retry) subscribes again,
    but the confirmation may come after the next request: the reconnect
    itself must forget the copies."""
    local_hits(client, "/")
    subscription = pagecache._local.subscription
    subscription.connection.disconnect()
    subscription.connection.connect()
    cache.set(pagecache.VERSION_KEY, "changed-while-reconnecting", timeout=None)
    monkeypatch.setattr(subscription, "get_message", lambda timeout: None)  # not confirmed yet
    assert client.get("/")["X-Cache"] == "miss"


def test_a_silent_subscription_serves_a_copy_for_local_seconds_at_most(
    client, rattle, monkeypatch, shared_cache_fails
):
    """An edit whose announcement never arrives: each copy is checked
    against the shared cache again after LOCAL_SECONDS, and the process then
    follows the new version (copies served again)."""
    monkeypatch.setattr(pagecache, "LOCAL_SECONDS", 0.2)
    local_hits(client, "/")
    cache.set(pagecache.VERSION_KEY, "announced-to-nobody", timeout=None)
    time.sleep(0.3)
    assert client.get("/")["X-Cache"] == "miss"
    assert outcomes(client, "/", times=2) == ["hit", "hit"]
    shared_cache_fails()
    assert client.get("/")["X-Cache"] == "hit"


def test_this_process_sees_its_own_edit_before_the_announcement(client, rattle, monkeypatch):
    """The announcement of an edit made here need not have arrived yet."""
    local_hits(client, "/")
    monkeypatch.setattr(pagecache, "_announce", lambda: None)
    rattle.name = "Loud Rattle"
    rattle.save()
    assert b"Loud Rattle" in client.get("/").content


def test_an_evicted_version_is_set_once_and_followed(client, rattle):
    """The version key evicted (allkeys-lru): the copies stay right (nothing
    was edited); the next shared lookup sets a new version, and this
    process's copies follow it."""
    local_hits(client, "/")
    cache.delete(pagecache.VERSION_KEY)
    assert client.get("/")["X-Cache"] == "hit", "the copy is still right: nothing was edited"
    assert client.get("/category/toys/")["X-Cache"] == "miss"
    version = cache.get(pagecache.VERSION_KEY)
    assert version
    assert outcomes(client, "/category/toys/", times=3) == ["hit", "hit", "hit"]
    assert cache.get(pagecache.VERSION_KEY) == version


def admin_change(admin_client, url, **fields):
    response = admin_client.post(url, fields)
    assert response.status_code == 302, response.content.decode()[:2000]


def product_form(product, **changes):
    fields = {
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "price": str(product.price),
        "category": product.category_id,
        "is_active": "on",
    }
    return {**fields, **changes}


def test_admin_edits_show_on_the_very_next_anonymous_request(client, admin_client, rattle, category):
    """A product's name and price, and a category's name, edited in the
    admin: the next anonymous request renders afresh, on every kind of page."""
    change = f"/admin/products/product/{rattle.pk}/change/"
    for url in CATALOG_PAGES:
        assert outcomes(client, url) == ["miss", "hit"]

    admin_change(admin_client, change, **product_form(rattle, name="Loud Rattle"))
    for url in CATALOG_PAGES:
        response = client.get(url)
        assert response["X-Cache"] == "miss", url
        assert b"Loud Rattle" in response.content, url
        assert b"Soft Rattle" not in response.content, url

    rattle.refresh_from_db()
    admin_change(admin_client, change, **product_form(rattle, price="12.30"))
    for url in CATALOG_PAGES:
        assert "€12.30" in client.get(url).content.decode(), url

    category_change = f"/admin/products/category/{category.pk}/change/"
    admin_change(admin_client, category_change, name="Playthings", slug="toys")
    for url in CATALOG_PAGES:
        assert b"Playthings" in client.get(url).content, url


def test_an_admin_list_edit_shows_on_the_next_request(client, admin_client, rattle):
    """list_editable (is_active on the product list) saves through the same
    signals: the product leaves the cached home page and its page is 404."""
    assert outcomes(client, "/") == ["miss", "hit"]
    response = admin_client.post(
        "/admin/products/product/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(rattle.pk),
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    assert b"Soft Rattle" not in client.get("/").content
    assert client.get("/products/soft-rattle/").status_code == 404


def test_a_request_during_the_edit_cannot_store_the_old_page(client, rattle):
    """The version changes when the edit commits, not when save() runs: a
    request rendered meanwhile (the old row, from another connection) would
    otherwise be stored under the new version and outlive the edit."""
    assert outcomes(client, "/") == ["miss", "hit"]

    def visit_from_another_connection():
        try:
            assert b"Soft Rattle" in Client().get("/").content
        finally:
            connection.close()

    with transaction.atomic():
        rattle.name = "Loud Rattle"
        rattle.save()
        visitor = threading.Thread(target=visit_from_another_connection)
        visitor.start()
        visitor.join()
    assert b"Loud Rattle" in client.get("/").content


def test_a_deleted_product_leaves_the_cached_pages(client, rattle):
    assert outcomes(client, "/") == ["miss", "hit"]
    rattle.delete()
    assert b"Soft Rattle" not in client.get("/").content


def test_migrate_invalidates_the_pages(client, rattle):
    """Every container start migrates: a restored database or a data
    migration is never hidden behind pages cached before."""
    assert outcomes(client, "/") == ["miss", "hit"]
    call_command("migrate", verbosity=0)
    assert client.get("/")["X-Cache"] == "miss"


def test_logged_in_users_never_get_or_leave_cached_pages(client, rattle):
    """A session cookie means the page is rendered for that user and never
    stored: A and B each see their own name; an anonymous visitor afterwards
    gets the anonymous page, which neither of them stored."""
    users = get_user_model().objects
    pages = {}
    for name in ("ada", "bob"):
        browser = Client()
        browser.force_login(users.create_user(name, password="a-long-enough-Passw0rd"))
        pages[name] = [browser.get(url) for url in CATALOG_PAGES for _ in range(2)]
    for name, responses in pages.items():
        for response in responses:
            assert response["X-Cache"] == "bypass"
            assert f"Signed in as <strong>{name}</strong>".encode() in response.content
    anonymous = [client.get(url) for url in CATALOG_PAGES]
    assert [response["X-Cache"] for response in anonymous] == ["miss"] * 3, "nothing was stored for A or B"
    for response in anonymous + [client.get(url) for url in CATALOG_PAGES]:
        assert b"Signed in as" not in response.content
        assert b"Log in" in response.content
    # Logged in after the anonymous page was stored: still not served it.
    browser = Client()
    browser.force_login(users.get(username="ada"))
    assert b"Signed in as <strong>ada</strong>" in browser.get("/").content


def sets_a_cookie(request):
    response = HttpResponse("a page with a cookie")
    response.set_cookie("tracking", "1")
    return response


def uses_the_csp_nonce(request):
    return HttpResponse(f'<script nonce="{request.csp_nonce}">ok()</script>')


urlpatterns = [
    path("login/", pagecache.cache_anonymous_page(LoginView.as_view())),
    path("register/", pagecache.cache_anonymous_page(RegisterView.as_view())),
    path("cookie/", pagecache.cache_anonymous_page(sets_a_cookie)),
    path("nonce/", pagecache.cache_anonymous_page(uses_the_csp_nonce)),
    path("vary/", pagecache.cache_anonymous_page(vary_on_cookie(lambda request: HttpResponse("varies")))),
    path("gone/", pagecache.cache_anonymous_page(lambda request: HttpResponse("gone", status=410))),
    path("", include("babyshop.urls")),
]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/login/", "/register/", "/cookie/", "/nonce/", "/vary/", "/gone/"])
def test_pages_that_must_be_fresh_are_never_stored(client, url):
    """Even behind the decorator: the log-in and register forms (a CSRF token
    and its cookie), a page setting a cookie, one using the CSP nonce, one
    varying on Cookie, and anything but a 200 are rendered every time."""
    first, second = client.get(url), client.get(url)
    assert [first["X-Cache"], second["X-Cache"]] == ["miss", "miss"]
    if url in ("/login/", "/register/"):
        assert re.search(rb'name="csrfmiddlewaretoken" value="[^"]+"', second.content)
        assert first.cookies["csrftoken"].value
    assert outcomes(client, "/") == ["miss", "hit"], "the cache itself works"


def test_a_post_is_never_served_from_the_cache(client, rattle):
    assert outcomes(client, "/") == ["miss", "hit"]
    response = client.post("/")
    assert (response.status_code, response["X-Cache"]) == (405, "bypass")


def test_the_site_works_while_the_cache_is_away(client, rattle, cache_away, caplog):
    """Every page still 200, fast, without the cache; one warning, not one per
    request; a catalog edit is saved; /readyz stays 200 and says so."""
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="babyshop.pagecache"):
        for url in [*CATALOG_PAGES, *CATALOG_PAGES, "/accounts/login/", "/accounts/register/"]:
            response = client.get(url)
            assert response.status_code == 200, url
            if url in CATALOG_PAGES:
                assert response["X-Cache"] == "bypass"
                assert b"Soft Rattle" in response.content
        Category.objects.create(name="Bath", slug="bath")
    assert time.monotonic() - started < 2
    warnings = [r for r in caplog.records if r.getMessage().startswith("page cache: the cache did not")]
    assert len(warnings) == 2, "one when pages first found it away, one for the save's invalidation"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "cache": "unavailable"}


def test_readyz_reports_the_cache(client):
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok", "cache": "ok"}


class SilentNetwork:
    """A TCP relay to the cache that can go silent on the connections it
    carries, as a load balancer that forgot them does: nothing is closed, and
    nothing gets through any more. New connections are relayed again."""

    def __init__(self, target):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.generation = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def silence_open_connections(self):
        self.generation += 1

    def _accept(self):
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(self.target)
            generation = self.generation
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._relay, args=(source, sink, generation), daemon=True).start()

    def _relay(self, source, sink, generation):
        while data := source.recv(65536):
            if generation == self.generation:
                sink.sendall(data)


def test_a_connection_gone_silent_does_not_lose_the_next_invalidation(settings, caplog):
    """The connection the cache client keeps stops carrying anything, with no
    error (a swarm's load balancer dropped it while idle): the next edit's
    invalidation is still made, on a new connection."""
    network = SilentNetwork(("cache", 6379))
    default = settings.CACHES["default"]
    settings.CACHES = {"default": {**default, "LOCATION": f"redis://127.0.0.1:{network.port}/0"}}
    version = cache.get_or_set(pagecache.VERSION_KEY, "before", timeout=None)
    network.silence_open_connections()
    with caplog.at_level(logging.WARNING, logger="babyshop.pagecache"):
        pagecache.invalidate()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert cache.get(pagecache.VERSION_KEY) != version


def test_a_failed_invalidation_is_logged_and_made_before_the_next_page(client, rattle, monkeypatch, caplog):
    """The cache fails every attempt of an edit's invalidation: an error says
    so, and once the cache answers again the invalidation is made before this
    process serves another page: never the page from before the edit."""
    assert outcomes(client, "/") == ["miss", "hit"]
    working_set = cache.set
    attempts = []

    def failing_set(key, *args, **kwargs):
        if key == pagecache.VERSION_KEY and attempts[-1:] != ["answering"]:
            attempts.append(key)
            raise RedisConnectionError("the test made the cache fail")
        return working_set(key, *args, **kwargs)

    monkeypatch.setattr(cache, "set", failing_set)
    with caplog.at_level(logging.WARNING, logger="babyshop.pagecache"):
        Product.objects.filter(pk=rattle.pk).update(name="Edited Rattle")
        pagecache.invalidate()
    assert len(attempts) == pagecache.INVALIDATE_ATTEMPTS
    (error,) = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert "could not be invalidated" in error.getMessage()
    attempts.append("answering")
    monkeypatch.setattr(pagecache, "_skip_until", 0.0)  # the cache answers again
    page = client.get("/")
    assert page["X-Cache"] == "miss"
    assert b"Edited Rattle" in page.content


@pytest.mark.parametrize(
    ("url", "same_as"),
    [
        ("/?page=%32", "/?page=2"),
        ("/?page=02", "/?page=2"),
        ("/?page=2&", "/?page=2"),
    ],
)
def test_one_page_has_one_key_however_its_url_is_spelt(client, make_product, url, same_as):
    for number in range(13):
        make_product(name=f"P{number:02d}")
    assert client.get(same_as)["X-Cache"] == "miss"
    assert client.get(url)["X-Cache"] == "hit"


def test_the_host_is_canonical(client, rattle, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    assert client.get("/", HTTP_HOST="shop.example.com")["X-Cache"] == "miss"
    assert client.get("/", HTTP_HOST="SHOP.Example.COM")["X-Cache"] == "hit"
    assert client.get("/", HTTP_HOST="shop.example.com.")["X-Cache"] == "hit"


@pytest.mark.parametrize("query", ["?utm_source=x", "?x", "?page=1&x=1", "?page=1&page=1", "?page=%EF%BC%91"])
def test_other_query_strings_are_never_stored(client, rattle, query):
    """Junk query strings would each make an entry: a flood would evict every real page."""
    assert outcomes(client, "/" + query) == ["bypass", "bypass"]
    keys = cache.redis().keys(f"*page:{pagecache._release()}:*")
    assert keys == []
