"""The page cache (babyshop/pagecache.py) against the real Valkey of the dev
compose, on pages of this module's own (no app's): what is served from it, to
whom, what is never stored, how writes invalidate it, and what happens when
the cache is away.

transaction=True: the invalidation runs when a transaction commits, so these
tests commit as a server does.
"""

import logging
import re
import socket
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.views import LoginView
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse
from django.middleware.csp import get_nonce
from django.test import Client
from django.urls import include, path
from django.views.decorators.vary import vary_on_cookie
from django.views.generic import TemplateView
from redis.exceptions import ConnectionError as RedisConnectionError

from babyshop import pagecache
from babyshop.config import ConfigError
from users.views import RegisterView

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

User = get_user_model()


def members(request):
    """A page showing rows of a model in PAGE_CACHE_MODELS (users.User here)."""
    users = User.objects.order_by("username")
    page = int(request.GET.get("page", 1))
    names = ", ".join(user.username for user in users[(page - 1) * 2 : page * 2])
    return HttpResponse(f"<p>members: {names}</p>")


def sets_a_cookie(request):
    response = HttpResponse("a page with a cookie")
    response.set_cookie("tracking", "1")
    return response


def uses_the_csp_nonce(request):
    return HttpResponse(f'<script nonce="{get_nonce(request)}">ok()</script>')


cached = pagecache.cache_anonymous_page
urlpatterns = [
    path("members/", cached(members)),
    # The site's layout, which names the logged-in user.
    path("layout/", cached(TemplateView.as_view(template_name="base.html"))),
    path("login/", cached(LoginView.as_view())),
    path("register/", cached(RegisterView.as_view())),
    path("cookie/", cached(sets_a_cookie)),
    path("nonce/", cached(uses_the_csp_nonce)),
    path("vary/", cached(vary_on_cookie(lambda request: HttpResponse("varies")))),
    path("gone/", cached(lambda request: HttpResponse("gone", status=410))),
    path("", include("babyshop.urls")),
]
PAGES = ["/members/", "/layout/"]


@pytest.fixture(autouse=True)
def users_in_cached_pages(page_cache, settings):
    """The page cache on (conftest.py), with users.User in PAGE_CACHE_MODELS."""
    settings.PAGE_CACHE_MODELS = [*settings.PAGE_CACHE_MODELS, "users.User"]
    pagecache.connect()
    yield
    for signal, kind in ((post_save, "save"), (post_delete, "delete")):
        signal.disconnect(sender=User, dispatch_uid=f"pagecache:{kind}:users.User")


@pytest.fixture
def ada(db):
    return User.objects.create_user("ada", password="a-long-enough-Passw0rd")


@pytest.fixture
def cache_away(settings):
    """The cache configured at a port where nothing listens."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://cache:1/0"}}


def outcomes(client, url, times=2):
    return [client.get(url)["X-Cache"] for _ in range(times)]


@pytest.mark.parametrize("url", PAGES)
def test_the_second_anonymous_request_is_a_hit(client, ada, url):
    """The same page, from the cache, with the outer middleware's headers
    added afresh (CSP, Vary: Cookie); HEAD is served from it too."""
    miss, hit = client.get(url), client.get(url)
    assert (miss.status_code, miss["X-Cache"]) == (200, "miss")
    assert (hit.status_code, hit["X-Cache"]) == (200, "hit")
    assert hit.content == miss.content
    for header in ("Content-Type", "Content-Security-Policy", "Permissions-Policy", "X-Frame-Options"):
        assert hit[header] == miss[header], header
    assert not hit.cookies
    assert client.head(url)["X-Cache"] == "hit"


def test_pages_are_kept_apart_by_query_string_and_host(client):
    for name in ("ann", "bob", "cy"):
        User.objects.create_user(name)
    first, second = client.get("/members/"), client.get("/members/?page=2")
    assert second["X-Cache"] == "miss"
    assert b"cy" in second.content
    assert b"cy" not in first.content
    assert client.get("/members/", HTTP_HOST="localhost")["X-Cache"] == "miss"
    assert client.get("/members/?page=2")["X-Cache"] == "hit"


def test_a_page_of_another_release_is_not_served(client, monkeypatch):
    """A deploy must not serve the previous release's pages (which link its
    static files): the release fingerprint is part of the key."""
    assert outcomes(client, "/members/") == ["miss", "hit"]
    monkeypatch.setattr(pagecache, "_release", lambda: "another-release")
    assert outcomes(client, "/members/") == ["miss", "hit"]


def test_a_save_or_delete_of_a_declared_model_shows_on_the_next_request(client, ada):
    assert outcomes(client, "/members/") == ["miss", "hit"]
    ada.username = "grace"
    ada.save()
    assert b"grace" in client.get("/members/").content
    assert outcomes(client, "/members/") == ["hit", "hit"]
    ada.delete()
    assert b"grace" not in client.get("/members/").content


def test_a_model_not_declared_invalidates_nothing(client, ada, settings):
    """PAGE_CACHE_MODELS decides: a log-in writes a session row and the
    user's last_login, neither of which may empty the cache (users.User is
    left out here)."""
    post_save.disconnect(sender=User, dispatch_uid="pagecache:save:users.User")
    assert outcomes(client, "/members/") == ["miss", "hit"]
    Client().force_login(ada)
    ada.username = "grace"
    ada.save()
    assert client.get("/members/")["X-Cache"] == "hit"


def test_a_request_during_the_write_cannot_store_the_old_page(client, ada):
    """The version changes when the write commits, not when save() runs: a
    request rendered meanwhile (the old row, from another connection) would
    otherwise be stored under the new version and outlive the write."""
    assert outcomes(client, "/members/") == ["miss", "hit"]

    def visit_from_another_connection():
        try:
            assert b"ada" in Client().get("/members/").content
        finally:
            connection.close()

    with transaction.atomic():
        ada.username = "grace"
        ada.save()
        visitor = threading.Thread(target=visit_from_another_connection)
        visitor.start()
        visitor.join()
    assert b"grace" in client.get("/members/").content


def test_migrate_invalidates_the_pages(client):
    """Every container start migrates: a restored database or a data
    migration is never hidden behind pages cached before, whatever apps
    the project has."""
    assert outcomes(client, "/members/") == ["miss", "hit"]
    call_command("migrate", verbosity=0)
    assert client.get("/members/")["X-Cache"] == "miss"


def test_an_entry_that_is_no_page_is_rendered_afresh(client):
    """Whatever else is found under a page's key (entries are plain bytes,
    never unpickled) is a miss, and the page is stored again."""
    assert outcomes(client, "/members/") == ["miss", "hit"]
    (key,) = pagecache.client().keys("page:*")
    pagecache.client().set(key, b"not a page")
    assert outcomes(client, "/members/") == ["miss", "hit"]


def test_an_evicted_version_is_set_once_and_followed(client):
    """The version key evicted (allkeys-lru): the next lookup sets a new one,
    and every page follows it."""
    assert outcomes(client, "/members/") == ["miss", "hit"]
    pagecache.client().delete(pagecache.VERSION_KEY)
    assert client.get("/members/")["X-Cache"] == "miss"
    version = pagecache.client().get(pagecache.VERSION_KEY)
    assert version
    assert outcomes(client, "/members/") == ["hit", "hit"]
    assert pagecache.client().get(pagecache.VERSION_KEY) == version


def test_logged_in_users_get_the_stored_page_with_their_own_part(client):
    """A session cookie: the page stored for anonymous visitors, with only
    its personal part (personal.html) rendered for this user. A and B each
    see their own name; nothing they were served is stored, and anonymous
    visitors still get the anonymous page."""
    browsers = {}
    for name in ("ada", "bob"):  # (users.User is a cached model here: first)
        browsers[name] = Client()
        browsers[name].force_login(User.objects.create_user(name, password="a-long-enough-Passw0rd"))
    assert outcomes(client, "/layout/") == ["miss", "hit"]
    for name, browser in browsers.items():
        for response in (browser.get("/layout/"), browser.get("/layout/")):
            assert response["X-Cache"] == "personal"
            assert f"Signed in as <strong>{name}</strong>".encode() in response.content
            assert b"Log in" not in response.content
            assert "Cookie" in response["Vary"]
    for response in (client.get("/layout/"), client.get("/layout/")):
        assert response["X-Cache"] == "hit"
        assert b"Signed in as" not in response.content
        assert b"Log in" in response.content


def test_with_no_stored_page_a_logged_in_user_gets_it_rendered_and_never_stored(client, ada):
    """No anonymous visit yet (or a stale one): the view renders the user's
    page, and it is not stored for anyone else."""
    browser = Client()
    browser.force_login(ada)
    first = browser.get("/layout/")
    assert first["X-Cache"] == "bypass"
    assert b"Signed in as <strong>ada</strong>" in first.content
    assert outcomes(client, "/layout/") == ["miss", "hit"]
    assert b"Signed in as" not in client.get("/layout/").content
    pagecache.invalidate()
    assert browser.get("/layout/")["X-Cache"] == "bypass", "a stale page is never used"


def test_a_log_in_no_longer_valid_ends_as_django_ends_it(client, ada, settings):
    """The password changed since the log-in (elsewhere): Django's own check
    ends the session, as it would without the cache; the visitor gets the
    page for anonymous visitors and the session cookie is deleted."""
    browser = Client()
    browser.force_login(ada)
    ada.set_password("another-long-Passw0rd")
    ada.save()
    assert outcomes(client, "/layout/") == ["miss", "hit"]
    response = browser.get("/layout/")
    assert response["X-Cache"] == "personal"
    assert b"Signed in as" not in response.content
    assert b"Log in" in response.content
    deleted = response.cookies[settings.SESSION_COOKIE_NAME]
    assert (deleted.value, deleted["max-age"]) == ("", 0)


def test_a_database_that_is_away_gets_its_503_for_a_session(client, ada, monkeypatch):
    """A stored page, but the session cannot be read: the chain runs and
    answers as it does when the database is away, not with an error."""
    browser = Client(raise_request_exception=False)
    browser.force_login(ada)
    assert outcomes(client, "/layout/") == ["miss", "hit"]
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    assert browser.get("/layout/").status_code == 503
    assert client.get("/layout/")["X-Cache"] == "hit", "anonymous visitors need no database"


def test_a_page_without_a_personal_part_is_rendered_for_a_session(client, ada):
    """/members/ has no personal part to tell visitors apart by: a visitor
    with a session gets it rendered, never someone else's copy."""
    assert outcomes(client, "/members/") == ["miss", "hit"]
    browser = Client()
    browser.force_login(ada)
    assert outcomes(browser, "/members/") == ["bypass", "bypass"]


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
    assert outcomes(client, "/members/") == ["miss", "hit"], "the cache itself works"


def test_a_post_is_never_served_from_the_cache(client):
    assert outcomes(client, "/members/") == ["miss", "hit"]
    response = client.post("/members/")
    assert response["X-Cache"] == "bypass"


def test_the_site_works_while_the_cache_is_away(client, ada, cache_away, caplog):
    """Every page still 200, fast, without the cache; one warning, not one per
    request; a write is saved; /readyz stays 200 and says so."""
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="babyshop.pagecache"):
        for url in [*PAGES, *PAGES, "/accounts/login/", "/accounts/register/"]:
            response = client.get(url)
            assert response.status_code == 200, url
            if url in PAGES:
                assert response["X-Cache"] == "bypass"
        User.objects.create_user("bob")
    assert time.monotonic() - started < 2
    warnings = [r for r in caplog.records if r.getMessage().startswith("page cache: the cache did not")]
    assert len(warnings) == 2, "one when pages first found it away, one for the save's invalidation"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "cache": "unavailable"}


def test_readyz_reports_the_cache(client, settings):
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok", "cache": "ok"}
    settings.PAGE_CACHE = False
    assert client.get("/readyz").json()["cache"] == "off"


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
    error (a swarm's load balancer dropped it while idle): the next write's
    invalidation is still made, on a new connection."""
    network = SilentNetwork(("cache", 6379))
    default = settings.CACHES["default"]
    settings.CACHES = {"default": {**default, "LOCATION": f"redis://127.0.0.1:{network.port}/0"}}
    pagecache.client().set(pagecache.VERSION_KEY, "before")
    network.silence_open_connections()
    with caplog.at_level(logging.WARNING, logger="babyshop.pagecache"):
        pagecache.invalidate()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert pagecache.client().get(pagecache.VERSION_KEY) != b"before"


def test_a_failed_invalidation_is_logged_and_made_before_the_next_page(client, ada, monkeypatch, caplog):
    """The cache fails every attempt of a write's invalidation: an error says
    so, and once the cache answers again the invalidation is made before this
    process serves another page: never the page from before the write."""
    assert outcomes(client, "/members/") == ["miss", "hit"]
    cache = pagecache.client()
    working_set = cache.set
    attempts = []

    def failing_set(key, *args, **kwargs):
        if key == pagecache.VERSION_KEY and attempts[-1:] != ["answering"]:
            attempts.append(key)
            raise RedisConnectionError("the test made the cache fail")
        return working_set(key, *args, **kwargs)

    monkeypatch.setattr(cache, "set", failing_set)
    with caplog.at_level(logging.WARNING, logger="babyshop.pagecache"):
        User.objects.filter(pk=ada.pk).update(username="grace")
        pagecache.invalidate()
    assert len(attempts) == pagecache.INVALIDATE_ATTEMPTS
    (error,) = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert "could not be invalidated" in error.getMessage()
    attempts.append("answering")
    monkeypatch.setattr(pagecache, "_skip_until", 0.0)  # the cache answers again
    page = client.get("/members/")
    assert page["X-Cache"] == "miss"
    assert b"grace" in page.content


@pytest.mark.parametrize(
    ("url", "same_as"),
    [
        ("/members/?page=%32", "/members/?page=2"),
        ("/members/?page=02", "/members/?page=2"),
        ("/members/?page=2&", "/members/?page=2"),
    ],
)
def test_one_page_has_one_key_however_its_url_is_spelt(client, url, same_as):
    assert client.get(same_as)["X-Cache"] == "miss"
    assert client.get(url)["X-Cache"] == "hit"


def test_the_host_is_canonical(client, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    assert client.get("/members/", HTTP_HOST="shop.example.com")["X-Cache"] == "miss"
    assert client.get("/members/", HTTP_HOST="SHOP.Example.COM")["X-Cache"] == "hit"
    assert client.get("/members/", HTTP_HOST="shop.example.com.")["X-Cache"] == "hit"


@pytest.mark.parametrize("query", ["?utm_source=x", "?x", "?page=1&x=1", "?page=1&page=1", "?page=%EF%BC%91"])
def test_other_query_strings_are_never_stored(client, query):
    """Junk query strings would each make an entry: a flood would evict every real page."""
    assert outcomes(client, "/members/" + query) == ["bypass", "bypass"]
    assert pagecache.client().keys(f"*page:{pagecache._release()}:*") == []


def test_off_the_pages_pass_by_the_cache(client, settings):
    """PAGE_CACHE=false (the default): no middleware, no X-Cache, nothing stored."""
    settings.PAGE_CACHE = False
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if not name.startswith("babyshop.pagecache.")]
    response = client.get("/members/")
    assert response.status_code == 200
    assert "X-Cache" not in response
    assert pagecache.client().keys("*page:*") == []


def test_an_unknown_model_in_page_cache_models_is_named(settings):
    settings.PAGE_CACHE_MODELS = ["no_such_app.Thing"]
    with pytest.raises(ConfigError, match=r"^PAGE_CACHE_MODELS names 'no_such_app.Thing', which is no"):
        pagecache.connect()
