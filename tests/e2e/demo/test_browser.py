"""The shop in a real browser: headless Chromium (Debian's package, driven by
Playwright; no browser is downloaded) through the production stack over
HTTPS, as a visitor goes: home, a category, a product, register, log out,
log in, log out. On each page it checks what a person sees: the text, every
picture loaded, the stylesheet applied, nothing failing in the console or
on the network. Screenshots of every step go to SCREENSHOTS_DIR (default
tests/e2e/screenshots/, not committed); docs/home.png is the home page's.

Chromium runs inside the network namespace of the stack's proxy container
and reaches the site at https://localhost, the proxy's own address there. On
the host's network it saw Docker add and remove bridges for other stacks
and failed the requests in flight (net::ERR_NETWORK_CHANGED: Chromium's
NetworkChangeNotifier, which no switch turns off); the proxy's namespace
never changes while it runs. Entering it takes root (nsenter).

Chromium is /usr/bin/chromium unless CHROMIUM names another; without it, or
without root, the test is skipped and says what it needs.
"""

import os
import shutil
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, inspect, png
from demo_shop import upload_product

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / "tests" / "e2e" / "screenshots"))
# site.css: the page background and the header laid out as a row.
STYLED = {"body": ("background-color", "rgb(255, 250, 247)"), ".site-header": ("display", "flex")}


@pytest.fixture(scope="module")
def playwright():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package, or set CHROMIUM")
    if os.geteuid() != 0:
        pytest.skip("Chromium runs in the proxy's network namespace, which only root may enter (nsenter)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as driver:
        yield driver


class Visit:
    """One Chromium of its own in the stack's proxy's network namespace, and
    one tab, recording every console error, failed request and 4xx/5xx
    answer it meets."""

    def __init__(self, playwright, stack, tmp_path):
        (proxy,) = stack.containers("proxy")
        namespace = inspect(proxy, "{{.NetworkSettings.SandboxKey}}")
        chromium = tmp_path / "chromium"
        chromium.write_text(f'#!/bin/sh\nexec nsenter --net={namespace} {CHROMIUM} "$@"\n')
        chromium.chmod(0o755)
        self.browser = playwright.chromium.launch(executable_path=str(chromium), headless=True)
        # Caddy's certificate comes from its local CA, which this throwaway
        # browser profile does not know; the stack suite verifies it elsewhere.
        self.context = self.browser.new_context(
            ignore_https_errors=True, viewport={"width": 1280, "height": 900}
        )
        self.page = self.context.new_page()
        self.base = "https://localhost"
        self.problems = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on(
            "response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}")
        )
        self.step = 0

    def close(self):
        self.browser.close()

    def check(self, name, heading):
        """What a person sees on the page now: its heading, every picture
        (lazy ones scrolled into view) drawn, the stylesheet applied, no
        problem so far; then a screenshot."""
        page = self.page
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").first.inner_text() == heading, name
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_load_state("networkidle")
        page.wait_for_function("[...document.images].every((image) => image.complete)")
        broken = page.evaluate("[...document.images].filter((i) => !i.naturalWidth).map((i) => i.src)")
        assert broken == [], f"{name}: pictures not drawn {self.problems}"
        for selector, (prop, value) in STYLED.items():
            style = page.evaluate(f"getComputedStyle(document.querySelector('{selector}'))['{prop}']")
            assert style == value, f"{name}: site.css not applied to {selector}"
        assert self.problems == [], name
        page.evaluate("window.scrollTo(0, 0)")
        self.step += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{self.step:02d}-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        return shot

    def account_text(self):
        return self.page.locator(".account").inner_text()


def test_a_visitor_browses_registers_and_logs_in_and_out(playwright, stack, tmp_path, figures):
    visit = Visit(playwright, stack, tmp_path)
    page = visit.page
    try:
        page.goto(visit.base + "/")
        home = visit.check("home", "New arrivals")
        assert page.title() == "babyshop"
        assert page.locator(".card").count() >= 6
        assert "Baby Monitor" in page.locator(".grid").inner_text()
        assert "Log in" in visit.account_text()
        shutil.copyfile(home, SCREENSHOTS / "home.png")

        page.locator("nav.categories a", has_text="Toys").click()
        visit.check("category", "Toys")
        assert page.locator("nav.categories [aria-current=page]").inner_text() == "Toys"
        first = page.locator(".card .name").first.inner_text()

        page.locator(".card a").first.click()
        visit.check("product", first)
        assert page.locator(".product .price").inner_text().startswith("€")
        assert page.locator(".breadcrumb").inner_text() == "Toys"

        username, password = f"visitor{uuid.uuid4().hex[:6]}", "A-browser-passw0rd-e2e"
        page.get_by_role("link", name="Register").click()
        visit.check("register", "Create an account")
        page.fill("#id_username", username)
        page.fill("#id_email", f"{username}@example.com")
        page.fill("#id_password1", password)
        page.fill("#id_password2", password)
        page.get_by_role("button", name="Register").click()
        visit.check("registered", "New arrivals")
        assert f"Signed in as {username}" in visit.account_text()

        page.get_by_role("button", name="Log out").click()
        visit.check("logged-out", "New arrivals")
        assert "Log in" in visit.account_text()
        assert "Signed in" not in visit.account_text()

        page.get_by_role("link", name="Log in").click()
        visit.check("login", "Log in")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.locator("main").get_by_role("button", name="Log in").click()
        visit.check("logged-in", "New arrivals")
        assert f"Signed in as {username}" in visit.account_text()

        page.get_by_role("button", name="Log out").click()
        visit.check("logged-out-again", "New arrivals")
        assert "Signed in" not in visit.account_text()
    finally:
        visit.close()
    figures.append(f"browser: {visit.step} pages checked in Chromium, screenshots in {SCREENSHOTS}")


def test_a_visitor_buys_and_the_confirmation_reaches_the_mail_catcher(playwright, stack, catcher, tmp_path):
    visit = Visit(playwright, stack, tmp_path)
    page = visit.page
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    try:
        page.goto(visit.base + "/products/bath-ducks-set-of-3/")
        visit.check("product-to-buy", "Bath Ducks (set of 3)")
        page.get_by_role("button", name="Add to cart").click()
        visit.check("cart", "Your cart")
        assert "Cart (1)" in visit.account_text()
        assert "€6.90" in page.locator("table.cart").inner_text()
        page.get_by_role("link", name="Check out").click()
        visit.check("checkout", "Check out")
        page.fill("#id_name", "Browser Shopper")
        page.fill("#id_email", email)
        page.fill("#id_address", "2 Browser Lane\nChromeville")
        page.get_by_role("button", name="Place the order").click()
        visit.check("order-placed", "Thank you, Browser Shopper")
        assert "Cart (" not in visit.account_text()
        confirmation = catcher.wait_for(email)
        assert confirmation["subject"].startswith("Your babyshop order")
        # The mail as its reader sees it (the catcher is on no network of the proxy's).
        inbox = visit.context.new_page()
        inbox.set_content(confirmation.get("html") or f"<pre>{confirmation['text']}</pre>")
        inbox.screenshot(path=str(SCREENSHOTS / f"{visit.step + 1:02d}-confirmation-in-the-mail-catcher.png"))
    finally:
        visit.close()


def test_a_picture_uploaded_in_the_admin_is_drawn_from_the_bucket(playwright, bucket_stack, tmp_path):
    """MEDIA_STORAGE=s3: the admin's upload is an object in the bucket, and
    the product page draws it (served by the shop, never a link to the bucket)."""
    bucket_stack.login_admin()
    picture = png(48, 32, (240, 200, 20))
    src = upload_product(bucket_stack, "bucket-teether", picture)
    assert bucket_stack.objects.read(src.removeprefix("/media/")) == picture
    visit = Visit(playwright, bucket_stack, tmp_path)
    try:
        visit.page.goto(visit.base + "/products/bucket-teether/")
        visit.check("product-from-the-bucket", "Bucket Teether")
        drawn = visit.page.evaluate(
            "[...document.images].map((i) => [new URL(i.src).pathname, i.naturalWidth, i.naturalHeight])"
        )
        assert [src, 48, 32] in drawn
    finally:
        visit.close()
