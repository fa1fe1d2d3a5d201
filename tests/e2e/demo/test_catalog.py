"""The demo catalog in the production stack: its pages, its admin, its uploads."""

import re

import pytest

from conftest import csrf_token, png
from demo_shop import upload_product


@pytest.fixture(scope="module")
def admin(stack):
    """A staff session, logged in through the admin's login form over HTTPS."""
    stack.login_admin()
    return stack


def test_home_page_lists_the_seeded_products(stack):
    response = stack.get("/")
    assert response.status_code == 200
    assert response.text.count('class="card"') == 12
    assert "Baby Monitor" in response.text
    assert 'rel="next" href="?page=2"' in response.text
    link = re.search(r'href="(/products/[a-z0-9-]+/)"', response.text).group(1)
    page = stack.get(link)
    assert page.status_code == 200
    assert "<h1>" in page.text
    assert "€" in page.text


def test_a_category_page_filters(stack):
    response = stack.get("/category/toys/")
    assert response.status_code == 200
    assert "Plush Bunny" in response.text
    assert "Baby Monitor" not in response.text
    assert stack.get("/category/no-such-category/").status_code == 404


def test_admin_upload_is_served_back_byte_identical(admin):
    picture = png(64, 48, (250, 128, 114))
    src = upload_product(admin, "uploaded-teether", picture)
    served = admin.get(src)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.content == picture


def test_a_broken_upload_is_refused_and_nothing_is_saved(admin):
    form = admin.get("/admin/products/product/add/")
    category = re.search(
        r'<select name="category"[^>]*>.*?<option value="(\d+)"', form.text, re.DOTALL
    ).group(1)
    fields = {"csrfmiddlewaretoken": csrf_token(form), "name": "Broken", "slug": "broken", "price": "1"}
    response = admin.post(
        "/admin/products/product/add/",
        data={**fields, "category": category},
        files={"image": ("broken.png", b"this is not a picture", "image/png")},
    )
    assert response.status_code == 200
    assert "Upload a valid image" in response.text
    assert admin.get("/products/broken/").status_code == 404
