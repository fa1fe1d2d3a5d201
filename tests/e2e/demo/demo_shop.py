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
        "is_active": "on",
    }
    saved = shop.post(
        "/admin/products/product/add/", data=fields, files={"image": (f"{slug}.png", picture, "image/png")}
    )
    assert saved.status_code == 200
    assert "was added successfully" in saved.text
    page = shop.get(f"/products/{slug}/")
    return re.search(r'<img src="(/media/products/[^"]+)"', page.text).group(1)
