"""The settings collectstatic runs with while the image is built (the
Dockerfile's `static` stage): the real settings, with no app but staticfiles
and every static directory named by path. That stage then needs none of the
other code, so a change to a view or a template does not collect and
compress every file again.

An app of yours that ships a static/ directory goes in APPS_WITH_STATIC_FILES
below, and its directory into that stage; tests/test_static.py fails until it
does.
"""

from pathlib import Path

import django.contrib.admin

from babyshop.settings import *  # noqa: F403
from babyshop.settings import STATICFILES_DIRS

APPS_WITH_STATIC_FILES = [django.contrib.admin]

INSTALLED_APPS = ["django.contrib.staticfiles"]
STATICFILES_DIRS = [
    *STATICFILES_DIRS,
    *(Path(app.__file__).parent / "static" for app in APPS_WITH_STATIC_FILES),
]
