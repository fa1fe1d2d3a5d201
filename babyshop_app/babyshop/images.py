"""Uploaded pictures: size, real type and pixel count, checked before use.

Give a model's picture the ImageField below instead of Django's: its forms,
the admin's included, then refuse what UploadedImageField refuses.
"""

from pathlib import Path

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.template.defaultfilters import filesizeformat
from PIL import Image

# What browsers display, by the name Pillow gives the format it finds in the
# file, with the file name endings each may have.
ACCEPTED_FORMATS = {
    "PNG": {".png"},
    "JPEG": {".jpg", ".jpeg"},
    "GIF": {".gif"},
    "WEBP": {".webp"},
}


def read_header(upload):
    """(format, width, height) from the file's header, without decoding pixels.

    Width and height are None for a picture so large that Pillow refuses even
    to open it; the result is None for a file that is no picture at all.
    """
    try:
        with Image.open(upload) as image:
            return image.format, *image.size
    except Image.DecompressionBombError:
        return None, None, None
    except Exception:  # Pillow raises many kinds for a non-image
        return None
    finally:
        upload.seek(0)


class UploadedImageField(forms.ImageField):
    """An image no larger than MAX_UPLOAD_SIZE bytes and MAX_IMAGE_PIXELS pixels,
    in a format a browser shows, named for the format it really is.

    Size and dimensions come from the file's header, so an oversized picture
    (a decompression bomb) is refused without ever being decoded.
    """

    def to_python(self, data):
        if data in self.empty_values:
            return super().to_python(data)
        if data.size > settings.MAX_UPLOAD_SIZE:
            raise ValidationError(
                f"The file is {filesizeformat(data.size)}; the largest accepted is "
                f"{filesizeformat(settings.MAX_UPLOAD_SIZE)}.",
                code="file_too_large",
            )
        header = read_header(data)
        if header is None:
            return super().to_python(data)  # its "not a valid image" message
        kind, width, height = header
        if width is None or width * height > settings.MAX_IMAGE_PIXELS:
            size = f" ({width} × {height})" if width else ""
            raise ValidationError(
                f"The picture has too many pixels{size}; the most accepted is "
                f"{settings.MAX_IMAGE_PIXELS / 1e6:g} megapixels.",
                code="too_many_pixels",
            )
        if kind not in ACCEPTED_FORMATS:
            raise ValidationError(
                f"{kind or 'This'} pictures are not accepted: upload PNG, JPEG, GIF or WebP.",
                code="format",
            )
        ending = Path(data.name or "").suffix.lower()
        if ending not in ACCEPTED_FORMATS[kind]:
            raise ValidationError(
                f"The file is a {kind} picture but its name ends in {ending or 'nothing'!r}: "
                f"rename it to end in {' or '.join(sorted(ACCEPTED_FORMATS[kind]))}.",
                code="wrong_extension",
            )
        return super().to_python(data)


class ImageField(models.ImageField):
    """Django's ImageField, whose form field is UploadedImageField."""

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": UploadedImageField, **kwargs})
