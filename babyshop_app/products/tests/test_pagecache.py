"""The demo catalog in the page cache: its pages are cached, and its models
(PAGE_CACHE_MODELS) invalidate them on every admin edit."""

import re
from decimal import Decimal

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("page_cache")]

CATALOG_PAGES = ["/", "/category/toys/", "/products/soft-rattle/"]


@pytest.fixture
def rattle(make_product):
    return make_product(name="Soft Rattle", slug="soft-rattle", price=Decimal("8.50"))


def outcomes(client, url, times=2):
    return [client.get(url)["X-Cache"] for _ in range(times)]


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
        "stock": product.stock,
        "is_active": "on",
    }
    return {**fields, **changes}


@pytest.mark.parametrize("url", CATALOG_PAGES)
def test_catalog_pages_are_cached(client, rattle, url):
    assert outcomes(client, url) == ["miss", "hit"]
    assert b"Soft Rattle" in client.get(url).content


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


def test_a_deleted_product_leaves_the_cached_pages(client, rattle):
    assert outcomes(client, "/") == ["miss", "hit"]
    rattle.delete()
    assert b"Soft Rattle" not in client.get("/").content


def masked(content):
    """The page, each CSRF token (masked afresh for every response) blanked."""
    return re.sub(rb'(name="csrfmiddlewaretoken" value=)"[^"]+"', rb'\1""', content)


@pytest.mark.parametrize("url", CATALOG_PAGES)
def test_a_shopper_with_a_session_gets_the_page_they_would_have_been_rendered(
    client, django_user_model, rattle, settings, url
):
    """A logged-in shopper with a cart, and an anonymous one with a cart, get
    the stored page with their own header (name, cart count, log-out form):
    byte for byte, header for header, the page rendered for them by a site
    without the page cache."""
    rattle.stock = 5
    rattle.save()
    shoppers = {"logged in": Client(), "cart only": Client()}
    ada = django_user_model.objects.create_user("ada", password="a-Long-passw0rd")
    shoppers["logged in"].force_login(ada)
    for shopper in shoppers.values():
        assert shopper.post(f"/cart/add/{rattle.pk}/").status_code == 302
    assert outcomes(client, url) == ["miss", "hit"]
    with_cache = settings.MIDDLEWARE
    without_cache = [name for name in with_cache if not name.endswith("PageCacheMiddleware")]
    for who, shopper in shoppers.items():
        served = shopper.get(url)
        assert served["X-Cache"] == "personal", who
        assert b"Cart (1)" in served.content, who
        assert (b"Signed in as <strong>ada</strong>" in served.content) == (who == "logged in")
        settings.MIDDLEWARE = without_cache
        uncached = Client()  # (a client loads the middleware once)
        uncached.cookies = shopper.cookies
        rendered = uncached.get(url)
        settings.MIDDLEWARE = with_cache
        assert "X-Cache" not in rendered
        assert masked(served.content) == masked(rendered.content), who
        assert "Cookie" in served["Vary"]
        assert headers(served) == {**headers(rendered), "X-Cache": "personal"}, who
        assert served["Content-Length"] == str(len(served.content))
        assert cookies(served) == cookies(rendered), who


def headers(response):
    """Its headers but the cookies and the request's id (one per request)."""
    return {name: value for name, value in response.items() if name not in ("Set-Cookie", "X-Request-ID")}


def cookies(response):
    """The cookies a response sets, each with its attributes but without its
    expiry (a second apart for the two responses)."""
    return {
        name: {attribute: value for attribute, value in morsel.items() if attribute != "expires"}
        | {"value": morsel.value}
        for name, morsel in response.cookies.items()
    }
