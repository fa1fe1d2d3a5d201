from decimal import Decimal

import pytest

from products.models import Category, Product


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads made by tests go to a temporary directory, not the bind mount."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    """Tests render templates without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


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
