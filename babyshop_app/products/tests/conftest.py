"""The demo catalog's fixtures."""

from decimal import Decimal

import pytest

from products.models import Category, Product


@pytest.fixture
def category(db):
    return Category.objects.create(name="Toys", slug="toys")


@pytest.fixture
def make_product(category):
    counter = iter(range(1, 1000))

    def make(**fields):
        number = next(counter)
        fields.setdefault("name", f"Product {number}")
        fields.setdefault("slug", f"product-{number}")
        fields.setdefault("price", Decimal("9.99"))
        fields.setdefault("category", category)
        return Product.objects.create(**fields)

    return make
