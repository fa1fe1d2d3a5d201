"""The product picture in the admin gets the upload checks (babyshop/images.py)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from babyshop.tests.pictures import picture
from products.models import Product

pytestmark = pytest.mark.django_db


def add_product(client, category, filename, content):
    return client.post(
        "/admin/products/product/add/",
        {
            "name": "Soft Rattle",
            "slug": "soft-rattle",
            "price": "9.99",
            "category": str(category.pk),
            "stock": "5",
            "is_active": "on",
            "image": SimpleUploadedFile(filename, content),
        },
    )


def test_a_picture_is_stored(admin_client, category):
    response = add_product(admin_client, category, "a.webp", picture("WEBP"))
    assert response.status_code == 302
    assert Product.objects.get().image.name.endswith(".webp")


def test_a_picture_of_another_type_than_its_name_is_refused(admin_client, category):
    response = add_product(admin_client, category, "a.png", picture("JPEG"))
    assert response.status_code == 200
    (error,) = response.context["adminform"].form.errors["image"]
    assert error.startswith("The file is a JPEG picture but its name ends in '.png'")
    assert not Product.objects.exists()


def test_a_picture_uploaded_in_the_admin_goes_to_the_bucket(admin_client, category, bucket, client):
    assert add_product(admin_client, category, "rattle.png", picture()).status_code == 302
    product = Product.objects.get()
    key = product.image.name
    assert bucket.bucket.Object(key).get()["Body"].read() == picture()
    page = client.get(f"/products/{product.slug}/").content.decode()
    assert f'src="/media/{key}"' in page
    # A deleted product leaves its picture, which a backup may name.
    deleted = admin_client.post(f"/admin/products/product/{product.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not Product.objects.exists()
    image = client.get(f"/media/{key}")
    assert (image.status_code, image["Content-Type"]) == (200, "image/png")
    assert b"".join(image.streaming_content) == picture()
    image.close()  # last: closing ends the request, which closes the database connection


@pytest.mark.parametrize("storage", ["local", "bucket"])
def test_the_longest_picture_name_accepted_is_stored_and_a_longer_one_is_a_form_error(
    admin_client, category, storage, request
):
    if storage == "bucket":
        request.getfixturevalue("bucket")
    longest = "r" * 96 + ".png"  # Product.image holds 100 characters, its folder and suffix included
    refused = add_product(admin_client, category, "r" + longest, picture())
    assert refused.status_code == 200
    (error,) = refused.context["adminform"].form.errors["image"]
    assert error == "Ensure this filename has at most 100 characters (it has 101)."
    assert add_product(admin_client, category, longest, picture()).status_code == 302
    name = Product.objects.get().image.name
    assert name.startswith("products/rrr")
    assert name.endswith(".png")
    assert len(name) <= 100
