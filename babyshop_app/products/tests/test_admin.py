import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/products/product/",
        "/admin/products/product/?q=rattle&is_active__exact=1",
        "/admin/products/product/add/",
        "/admin/products/category/",
        "/admin/products/category/add/",
    ],
)
def test_admin_pages_load(admin_client, make_product, url):
    make_product(name="Soft Rattle")
    assert admin_client.get(url).status_code == 200


def test_admin_lists_products_with_their_columns(admin_client, make_product):
    make_product(name="Soft Rattle")
    content = admin_client.get("/admin/products/product/").content
    for column in (b"column-category", b"column-price", b"column-is_active", b"Soft Rattle"):
        assert column in content
