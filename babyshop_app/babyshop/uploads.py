"""An upload handler that refuses an oversized request body before reading it.

The proxy answers 413 for bodies over MAX_REQUEST_BODY; this holds the same
limit for anything that reaches gunicorn another way, so that no request can
spool more than that to web's /tmp. Django answers such a request with 400.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler


class RequestBodyLimit(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > settings.MAX_REQUEST_BODY:
            raise RequestDataTooBig(
                f"request body of {content_length} bytes is over MAX_REQUEST_BODY={settings.MAX_REQUEST_BODY}"
            )

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None
