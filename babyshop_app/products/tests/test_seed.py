import pytest
from django.core.management import call_command
from PIL import Image

from products.models import Category, Product

pytestmark = pytest.mark.django_db


def test_seed_creates_a_demo_catalog_with_pictures(media_root):
    call_command("seed_demo")
    assert Category.objects.count() == 4
    assert Product.objects.active().count() == 24
    for product in Product.objects.all():
        with Image.open(media_root / product.image.name) as picture:
            assert picture.size == (600, 600)


def test_seed_is_idempotent_and_keeps_edits():
    call_command("seed_demo")
    Product.objects.filter(slug="plush-bunny").update(name="Edited Bunny")
    before = sorted(Product.objects.values_list("slug", "name", "image"))
    call_command("seed_demo")
    assert sorted(Product.objects.values_list("slug", "name", "image")) == before
    assert Product.objects.count() == 24
    assert Category.objects.count() == 4


def test_seed_puts_back_pictures_whose_files_are_gone(bucket):
    """As after a switch to MEDIA_STORAGE=s3: the rows name files the new storage lacks."""
    call_command("seed_demo")
    lost = Product.objects.get(slug="plush-bunny").image.name
    bucket.bucket.Object(lost).delete()
    call_command("seed_demo")
    name = Product.objects.get(slug="plush-bunny").image.name
    assert bucket.exists(name)
    assert all(bucket.exists(product.image.name) for product in Product.objects.all())
