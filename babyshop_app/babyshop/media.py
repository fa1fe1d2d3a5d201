"""Uploaded files, served so that nothing else can be reached.

With MEDIA_STORAGE=s3 they are streamed from the bucket (babyshop/buckets.py
says why through the app); else read from MEDIA_ROOT, as follows.

Every path component is opened relative to the directory before it with
O_NOFOLLOW, so a symbolic link anywhere on the path is refused, never
followed; only a regular file with a single link is served (a hard link
could name a file kept elsewhere); names starting with a dot are never
served (restore and backup staging). This holds even if something with write
access to the media volume plants links there: they lead nowhere.

Images are sent with their type; anything else as a download. Browsers may
cache them for a day and revalidate with If-Modified-Since.
"""

import mimetypes
import os
import stat

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO planted in the volume must not hang the worker.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def check_name(relative):
    """The parts of a file's name; Http404 for an empty part or one starting with a dot."""
    parts = relative.split("/")
    if any(not part or part.startswith(".") for part in parts):
        raise Http404("no such file")
    return parts


def open_beneath(root, relative):
    """An open file descriptor and its stat for root/relative; Http404 for anything else."""
    parts = check_name(relative)
    directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            inner = os.open(part, DIRECTORY_FLAGS, dir_fd=directory)
            os.close(directory)
            directory = inner
        descriptor = os.open(parts[-1], FILE_FLAGS, dir_fd=directory)
    except (OSError, ValueError):  # ELOOP for a link, ENOENT, ENOTDIR; ValueError for NUL
        raise Http404("no such file") from None
    finally:
        os.close(directory)
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(descriptor)
        raise Http404("no such file")
    return descriptor, info


def open_file(path, since):
    """(file, size, modified) for a file in MEDIA_ROOT; None if not modified since."""
    descriptor, info = open_beneath(settings.MEDIA_ROOT, path)
    if not was_modified_since(since, info.st_mtime):
        os.close(descriptor)
        return None
    return os.fdopen(descriptor, "rb"), info.st_size, info.st_mtime


class Unavailable(Exception):
    """Where the files are kept cannot be read now (logged where raised)."""


@require_safe
def serve(request, path):
    since = request.META.get("HTTP_IF_MODIFIED_SINCE")
    if settings.MEDIA_STORAGE == "S3":
        from babyshop.buckets import open_object as open_media  # boto3 is loaded only when used
    else:
        open_media = open_file
    try:
        found = open_media(path, since)
    except Unavailable:
        return HttpResponse("The file cannot be read now.", status=503, content_type="text/plain")
    if found is None:
        return HttpResponseNotModified()
    file, size, modified = found
    content_type, _ = mimetypes.guess_type(path)
    image = content_type in IMAGE_TYPES
    response = FileResponse(
        file,
        content_type=content_type if image else "application/octet-stream",
        as_attachment=not image,
        filename=path.rsplit("/", 1)[-1],
    )
    response["Content-Length"] = size
    response["Last-Modified"] = http_date(modified)
    response["Cache-Control"] = "public, max-age=86400"
    # Nothing in a served file may run, whatever a browser makes of it.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
