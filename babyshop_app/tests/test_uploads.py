"""Picture uploads through the admin: size, real type and pixel count."""

import struct
import zlib
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from PIL import Image

from products.management.commands.seed_demo import product_picture
from products.models import Product

pytestmark = pytest.mark.django_db

ADD = "/admin/products/product/add/"


def picture(kind="PNG", size=(64, 64)):
    buffer = BytesIO()
    Image.new("RGB", size, "#f0c0d0").save(buffer, format=kind)
    return buffer.getvalue()


def png_header_only(width, height):
    """A PNG that claims width x height pixels in a few dozen bytes: what a
    decompression bomb looks like before anything decodes it."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def add_product(client, filename, content):
    return client.post(
        ADD,
        {
            "name": "Soft Rattle",
            "slug": "soft-rattle",
            "price": "9.99",
            "category": str(Product._meta.get_field("category").related_model.objects.get().pk),
            "is_active": "on",
            "image": SimpleUploadedFile(filename, content),
        },
    )


def errors(response):
    return response.context["adminform"].form.errors.get("image", [])


@pytest.fixture
def admin(admin_client, category):
    return admin_client


@pytest.mark.parametrize(
    ("filename", "kind"), [("a.png", "PNG"), ("a.jpg", "JPEG"), ("a.gif", "GIF"), ("a.webp", "WEBP")]
)
def test_browser_pictures_are_accepted(admin, filename, kind):
    response = add_product(admin, filename, picture(kind))
    assert response.status_code == 302, errors(response)
    assert Product.objects.get().image.name.endswith(filename.rsplit(".", 1)[1])


def test_a_file_over_max_upload_size_gets_a_form_error(admin, settings):
    content = product_picture("Duck")
    settings.MAX_UPLOAD_SIZE = 1024
    response = add_product(admin, "duck.png", content)
    assert response.status_code == 200
    shown = filesizeformat(len(content))
    assert errors(response) == [f"The file is {shown}; the largest accepted is 1.0\xa0KB."]
    assert not Product.objects.exists()


def test_a_body_over_max_request_body_is_refused_unread(admin, settings):
    """Reached only by a client inside the stack: the proxy answers 413 first."""
    settings.MAX_UPLOAD_SIZE, settings.MAX_REQUEST_BODY = 1_000, 2_000
    response = add_product(admin, "big.png", picture(size=(400, 400)) + b"\0" * 5_000)
    assert response.status_code == 400
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("a.bmp", picture("BMP"), "BMP pictures are not accepted: upload PNG, JPEG, GIF or WebP."),
        ("a.png", picture("JPEG"), "The file is a JPEG picture but its name ends in '.png': rename it"),
        ("a.png", b"<html><script>alert(1)</script></html>", "Upload a valid image."),
    ],
)  # fmt: skip
def test_the_real_type_decides(admin, filename, content, message):
    response = add_product(admin, filename, content)
    assert response.status_code == 200
    assert errors(response)[0].startswith(message)


def test_too_many_pixels_are_refused_from_the_header(admin, settings):
    settings.MAX_IMAGE_PIXELS = 100 * 100
    response = add_product(admin, "wide.png", picture(size=(101, 100)))
    assert errors(response) == [
        "The picture has too many pixels (101 × 100); the most accepted is 0.01 megapixels."
    ]


def test_a_decompression_bomb_is_refused_without_decoding(admin):
    bomb = png_header_only(100_000, 100_000)
    assert len(bomb) < 100
    response = add_product(admin, "bomb.png", bomb)
    assert errors(response) == ["The picture has too many pixels; the most accepted is 40 megapixels."]
