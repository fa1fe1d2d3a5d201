"""Picture uploads (babyshop/images.py): size, real type and pixel count,
checked from the file's header before anything decodes it; and request
bodies over MAX_REQUEST_BODY refused unread."""

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat

from babyshop.images import ImageField, UploadedImageField
from babyshop.tests.pictures import picture, png_header_only


class PictureForm(forms.Form):
    image = UploadedImageField()


def errors(filename, content):
    form = PictureForm(files={"image": SimpleUploadedFile(filename, content)})
    form.is_valid()
    return form.errors.get("image", [])


def test_the_model_field_gives_its_forms_the_checks():
    field = ImageField(upload_to="covers/")
    field.set_attributes_from_name("cover")
    assert type(field.formfield()) is UploadedImageField


@pytest.mark.parametrize(
    ("filename", "kind"), [("a.png", "PNG"), ("a.jpg", "JPEG"), ("a.gif", "GIF"), ("a.webp", "WEBP")]
)
def test_browser_pictures_are_accepted(filename, kind):
    assert errors(filename, picture(kind)) == []


def test_a_file_over_max_upload_size_gets_a_form_error(settings):
    content = picture(size=(200, 200))
    settings.MAX_UPLOAD_SIZE = 100
    shown = filesizeformat(len(content))
    assert errors("big.png", content) == [f"The file is {shown}; the largest accepted is 100\xa0bytes."]


@pytest.mark.django_db
def test_a_body_over_max_request_body_is_refused_unread(client, settings):
    """Reached only by a client inside the stack: the proxy answers 413 first."""
    settings.MAX_UPLOAD_SIZE, settings.MAX_REQUEST_BODY = 1_000, 2_000
    upload = SimpleUploadedFile("big.png", picture(size=(400, 400)) + b"\0" * 5_000)
    response = client.post("/accounts/login/", {"username": "ada", "password": "x", "image": upload})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("a.bmp", picture("BMP"), "BMP pictures are not accepted: upload PNG, JPEG, GIF or WebP."),
        ("a.png", picture("JPEG"), "The file is a JPEG picture but its name ends in '.png': rename it"),
        ("a.png", b"<html><script>alert(1)</script></html>", "Upload a valid image."),
    ],
)  # fmt: skip
def test_the_real_type_decides(filename, content, message):
    assert errors(filename, content)[0].startswith(message)


def test_too_many_pixels_are_refused_from_the_header(settings):
    settings.MAX_IMAGE_PIXELS = 100 * 100
    assert errors("wide.png", picture(size=(101, 100))) == [
        "The picture has too many pixels (101 × 100); the most accepted is 0.01 megapixels."
    ]


def test_a_decompression_bomb_is_refused_without_decoding():
    bomb = png_header_only(100_000, 100_000)
    assert len(bomb) < 100
    message = "The picture has too many pixels; the most accepted is 40 megapixels."
    assert errors("bomb.png", bomb) == [message]
