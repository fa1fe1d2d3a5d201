from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.urls import reverse

from products.management.commands.seed_demo import product_picture
from products.models import Category, Product

pytestmark = pytest.mark.django_db


def names(response):
    return [product.name for product in response.context["products"]]


class TestModels:
    def test_urls_use_slugs(self, make_product, category):
        product = make_product(slug="soft-rattle")
        assert product.get_absolute_url() == "/products/soft-rattle/"
        assert category.get_absolute_url() == "/category/toys/"
        assert str(product) == product.name
        assert str(category) == "Toys"

    def test_negative_price_fails_validation(self, make_product, category):
        product = Product(name="X", slug="x", price=Decimal("-0.01"), category=category)
        with pytest.raises(ValidationError, match="price"):
            product.full_clean()

    def test_database_refuses_negative_price(self, make_product):
        product = make_product()
        with pytest.raises(IntegrityError, match="product_price_not_negative"):
            Product.objects.filter(pk=product.pk).update(price=Decimal("-1"))

    def test_slugs_are_unique(self, make_product):
        make_product(slug="same")
        with pytest.raises(IntegrityError):
            make_product(slug="same")

    def test_category_with_products_cannot_be_deleted(self, make_product, category):
        make_product()
        with pytest.raises(IntegrityError):
            Category.objects.filter(pk=category.pk).delete()


class TestProductList:
    def test_lists_active_products_newest_first(self, client, make_product):
        make_product(name="Old")
        make_product(name="Hidden", is_active=False)
        make_product(name="New")
        response = client.get("/")
        assert response.status_code == 200
        assert names(response) == ["New", "Old"]
        assert b"Hidden" not in response.content

    def test_each_product_links_to_its_page(self, client, make_product):
        make_product(name="Sun Hat", slug="sun-hat")
        assert b'href="/products/sun-hat/"' in client.get("/").content

    def test_paginates_twelve_a_page(self, client, make_product):
        for number in range(13):
            make_product(name=f"P{number:02d}")
        first = client.get("/")
        assert len(names(first)) == 12
        assert names(first)[0] == "P12"
        assert b'rel="next" href="?page=2"' in first.content
        second = client.get("/?page=2")
        assert names(second) == ["P00"]

    def test_page_out_of_range_is_404(self, client, make_product):
        make_product()
        assert client.get("/?page=9").status_code == 404
        assert client.get("/?page=abc").status_code == 404

    def test_filters_by_category_slug(self, client, make_product):
        clothes = Category.objects.create(name="Clothing", slug="clothing")
        make_product(name="Rattle")
        make_product(name="Bodysuit", category=clothes)
        response = client.get(reverse("products:category", kwargs={"slug": "clothing"}))
        assert response.status_code == 200
        assert names(response) == ["Bodysuit"]
        assert b'aria-current="page">Clothing' in response.content

    def test_unknown_category_is_404(self, client):
        assert client.get("/category/no-such-thing/").status_code == 404

    def test_empty_catalog_says_so(self, client):
        assert b"No products here yet." in client.get("/").content


class TestProductDetail:
    def test_renders_the_product(self, client, make_product):
        make_product(name="Plush Bunny", slug="plush-bunny", price=Decimal("15.00"), description="Soft.")
        response = client.get("/products/plush-bunny/")
        assert response.status_code == 200
        assert b"<h1>Plush Bunny</h1>" in response.content
        assert "€15.00" in response.content.decode()
        assert b'href="/category/toys/"' in response.content

    def test_unknown_slug_is_404(self, client):
        response = client.get("/products/nope/")
        assert response.status_code == 404
        assert b"Not found" in response.content

    def test_inactive_product_is_404(self, client, make_product):
        make_product(slug="gone", is_active=False)
        assert client.get("/products/gone/").status_code == 404

    def test_placeholder_when_no_image(self, client, make_product):
        make_product(slug="bare")
        assert b"/static/products/placeholder.svg" in client.get("/products/bare/").content

    def test_uploaded_image_is_stored_under_media_root(self, client, make_product, media_root):
        upload = SimpleUploadedFile("duck.png", product_picture("Duck"), content_type="image/png")
        product = make_product(slug="duck", image=upload)
        assert (media_root / product.image.name).read_bytes() == product_picture("Duck")
        content = client.get("/products/duck/").content
        assert f'src="/media/{product.image.name}"'.encode() in content
        assert b"placeholder.svg" not in content


class TestQueries:
    """The uncached pages' SQL, pinned: an N+1 (a query per product or per
    category, e.g. without select_related) fails here. Each page needs the
    category menu; lists count and fetch one page of products."""

    @pytest.fixture
    def catalog(self, make_product, category):
        others = [Category.objects.create(name=f"C{n}", slug=f"c{n}") for n in range(5)]
        for number in range(14):
            make_product(name=f"P{number}", slug=f"p{number}", category=[category, *others][number % 6])

    @pytest.mark.parametrize(
        ("url", "queries"),
        [
            ("/", 3),  # count, page of products with their categories, menu
            ("/?page=2", 3),
            ("/category/toys/", 4),  # + the category
            ("/products/p1/", 2),  # the product with its category, menu
        ],
    )
    def test_queries_per_page(self, client, catalog, django_assert_num_queries, url, queries):
        with django_assert_num_queries(queries):
            assert client.get(url).status_code == 200
