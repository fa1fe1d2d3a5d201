"""What the demo's stack tests do in its catalog (the shared stack seeds it)."""

import re

from conftest import csrf_token

CATALOG = ["/", "/category/toys/", "/products/baby-monitor/"]


def upload_product(shop, slug, picture):
    """Add a product with a picture through the admin (shop logged in as
    admin); the picture's URL."""
    form = shop.get("/admin/products/product/add/")
    category = re.search(r'<select name="category"[^>]*>.*?<option value="(\d+)"', form.text, re.DOTALL)
    fields = {
        "csrfmiddlewaretoken": csrf_token(form),
        "name": slug.replace("-", " ").title(),
        "slug": slug,
        "description": "Added through the admin by the stack tests.",
        "price": "4.20",
        "category": category.group(1),
        "stock": "5",
        "is_active": "on",
    }
    saved = shop.post(
        "/admin/products/product/add/", data=fields, files={"image": (f"{slug}.png", picture, "image/png")}
    )
    assert saved.status_code == 200
    assert "was added successfully" in saved.text
    page = shop.get(f"/products/{slug}/")
    return re.search(r'<img src="(/media/products/[^"]+)"', page.text).group(1)


def hidden(page, name):
    return re.search(rf'name="{name}" value="([^"]+)"', page.text).group(1)


def buy(shopper, base, slug, email, quantity=1):
    """Put a product in shopper's cart and check out over HTTPS: the order's
    page (its URL), or the checkout page that refused it."""
    product = shopper.get(f"{base}/products/{slug}/", timeout=10)
    action = re.search(r'action="(/cart/add/\d+/)"', product.text).group(1)
    for _ in range(quantity):
        # The browser's Origin, as a form post sends it.
        added = shopper.post(base + action, headers={"Origin": base}, timeout=10)
        assert added.status_code == 200, added.status_code
    page = shopper.get(f"{base}/checkout/", timeout=10)
    fields = {
        "csrfmiddlewaretoken": csrf_token(page), "submission": hidden(page, "submission"),
        "fingerprint": hidden(page, "fingerprint"), "name": "E2E Shopper", "email": email,
        "address": "1 Test Street\nTestville",
    }  # fmt: skip
    return shopper.post(
        f"{base}/checkout/", data=fields, headers={"Referer": f"{base}/checkout/"}, timeout=30
    )
