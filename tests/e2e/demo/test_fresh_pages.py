"""The demo catalog's cached fragments: an admin's edit is seen at once."""

import json

from conftest import anonymous, csrf_token, png
from demo_shop import upload_product

# Requests from inside web, straight to gunicorn, each on a new connection,
# so that they land on every worker process: whether the page has the given
# text, one line each.
FRESH_CONNECTIONS = """
import sys, urllib.request
path, text, times = sys.argv[1], sys.argv[2], int(sys.argv[3])
for _ in range(times):
    request = urllib.request.Request('http://127.0.0.1:8000' + path,
                                     headers={'Host': 'localhost', 'X-Forwarded-Proto': 'https'})
    with urllib.request.urlopen(request, timeout=10) as answer:
        print(text in answer.read().decode())
"""


def test_admin_edits_show_on_the_very_next_request(stack):
    """A product added, then its price changed, through the admin's forms:
    the next anonymous request shows each change, from every worker process."""
    browser = anonymous(stack)
    for path in ("/", "/category/clothing/"):
        assert browser.get(stack.url + path, timeout=10).status_code == 200
    stack.login_admin()
    upload_product(stack, "cached-bib", png(8, 8, (9, 9, 9)))
    home = browser.get(stack.url + "/", timeout=10)
    assert 'href="/products/cached-bib/"' in home.text

    row = "SELECT row_to_json(p) FROM products_product p WHERE slug = 'cached-bib'"
    product = json.loads(stack.psql(row))
    clothing = stack.psql("SELECT id FROM products_category WHERE slug = 'clothing'")
    change = f"/admin/products/product/{product['id']}/change/"
    # Every worker process has the page's fragment cached at the old price...
    fresh = ["python", "-c", FRESH_CONNECTIONS, "/products/cached-bib/", "€7.77", "30"]
    assert stack.exec("web", *fresh).stdout.split() == ["False"] * 30
    form = stack.get(change)
    saved = stack.post(
        change,
        data={"csrfmiddlewaretoken": csrf_token(form), "name": product["name"], "slug": "cached-bib",
              "description": product["description"], "price": "7.77", "category": clothing,
              "stock": "5", "is_active": "on"},
    )  # fmt: skip
    assert saved.status_code == 200
    assert "was changed successfully" in saved.text
    assert "€7.77" in browser.get(stack.url + "/products/cached-bib/", timeout=10).text
    # ...and every one shows the new one after the edit.
    answers = stack.exec("web", *fresh).stdout.split()
    assert answers == ["True"] * 30, answers
    assert "Cached Bib" in browser.get(stack.url + "/category/clothing/", timeout=10).text
