"""The page cache in the production stack (PAGE_CACHE=true: Valkey), through
the proxy over HTTPS: hits for anonymous visitors, never a cached page for a
logged-in user, and a site that works while the cache is away. (Edits seen
at once: the demo's tests, tests/e2e/demo/.)"""

import json
import re
import time

from conftest import anonymous, csrf_token, x_cache

# Pages every project has, cached: the home page (the demo catalog while it is here).
CACHED = ["/"]
READYZ = """
import urllib.error, urllib.request
try:
    answer = urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=10)
except urllib.error.HTTPError as error:
    answer = error
print(answer.status, answer.read().decode())
"""
# Sequential requests from inside web, straight to gunicorn (no proxy, no
# TLS): mean milliseconds for cache hits, and for misses (a new query string
# each time, so each one renders and stores its page).
TIMING = """
import time, urllib.request
def mean_ms(paths):
    started = time.perf_counter()
    for path in paths:
        request = urllib.request.Request('http://127.0.0.1:8000' + path,
                                         headers={'Host': 'localhost', 'X-Forwarded-Proto': 'https'})
        assert urllib.request.urlopen(request, timeout=10).status == 200
    return (time.perf_counter() - started) * 1000 / len(paths)
print(mean_ms(['/?miss=%d' % n for n in range(300)]), mean_ms(['/'] * 300))
"""


def readyz(stack):
    status, body = stack.exec("web", "python", "-c", READYZ).stdout.split(" ", 1)
    return int(status), json.loads(body)


def test_a_second_anonymous_request_is_a_hit(stack):
    browser = anonymous(stack)
    for path in CACHED:
        first = browser.get(stack.url + path, timeout=10)
        second = browser.get(stack.url + path, timeout=10)
        assert first.headers["X-Cache"] in ("miss", "hit"), "another test may have asked first"
        assert second.headers["X-Cache"] == "hit", path
        assert second.text == first.text
        assert "default-src 'none'" in second.headers["Content-Security-Policy"]
        assert "max-age=" in second.headers["Strict-Transport-Security"]
        assert not second.cookies


def test_cached_pages_are_faster(stack, figures):
    """Informal: hits against misses, from inside web (never asserted on a
    figure, only that a hit is the faster)."""
    miss, hit = map(float, stack.exec("web", "python", "-c", TIMING).stdout.split())
    figures.append(f"home page from gunicorn, 300 sequential requests: miss {miss:.1f} ms, hit {hit:.1f} ms")
    assert hit < miss


def test_a_logged_in_user_gets_the_cached_page_with_their_own_header(stack):
    stack.exec(
        "web", "python", "manage.py", "shell", "-c",
        "from users.models import User; User.objects.create_user('cachy', password='Cachy-passw0rd-e2e')",
    )  # fmt: skip
    browser = anonymous(stack)
    for path in CACHED:
        x_cache(browser, stack, path)
        assert x_cache(browser, stack, path) == "hit"
    user = anonymous(stack)
    form = user.get(stack.url + "/accounts/login/", timeout=10)
    logged_in = user.post(
        stack.url + "/accounts/login/",
        data={"csrfmiddlewaretoken": csrf_token(form), "username": "cachy", "password": "Cachy-passw0rd-e2e"},
        headers={"Referer": stack.url + "/accounts/login/"},
        timeout=10,
    )
    assert "__Host-sessionid" in user.cookies
    assert "Signed in as <strong>cachy</strong>" in logged_in.text
    for path in CACHED:
        page = user.get(stack.url + path, timeout=10)
        assert page.headers["X-Cache"] == "personal", path
        assert "Signed in as <strong>cachy</strong>" in page.text, path
        assert "Log in" not in page.text, path
    for path in CACHED:
        page = browser.get(stack.url + path, timeout=10)
        assert page.headers["X-Cache"] == "hit", path
        assert "Signed in as" not in page.text


def test_the_site_works_while_the_cache_is_away(stack, figures):
    """`docker compose stop cache`: every page 200, /readyz 200 with the cache
    unavailable; `start cache`: hits come back."""
    browser = anonymous(stack)
    pages = [*CACHED, "/accounts/login/"]
    try:
        stack.compose("stop", "cache")
        started = time.monotonic()
        for _ in range(3):
            for path in pages:
                response = browser.get(stack.url + path, timeout=10)
                assert response.status_code == 200, path
                assert response.headers.get("X-Cache", "bypass") == "bypass", path
        took = time.monotonic() - started
        assert readyz(stack) == (200, {"status": "ok", "database": "ok", "cache": "unavailable"})
        assert re.search(r"page cache: the cache did not answer", stack.logs("web"))
    finally:
        stack.compose("start", "cache")
        stack.compose("up", "--wait", "--no-recreate", "cache")
    figures.append(f"cache stopped: {len(pages) * 3} pages, all 200, in {took:.2f}s")
    deadline = time.monotonic() + 30
    while x_cache(browser, stack, "/") != "hit":
        assert time.monotonic() < deadline, "hits did not come back"
        time.sleep(0.5)
    assert readyz(stack) == (200, {"status": "ok", "database": "ok", "cache": "ok"})
