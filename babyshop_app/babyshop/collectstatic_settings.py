"""The settings collectstatic runs with while the image is built (the
Dockerfile's `static` stage): the real settings, with no app but staticfiles
and every installed app's static/ directory named by path. That stage holds
manage.py, this package and the static/ directories, nothing else, so a
change to a view or a template does not collect and compress every file
again, and an app of yours with a static/ directory needs no line anywhere.
"""

import importlib.util
from pathlib import Path

from babyshop.settings import *  # noqa: F403
from babyshop.settings import INSTALLED_APPS as _INSTALLED_APPS
from babyshop.settings import STATICFILES_DIRS


def package_dir(name):
    """The directory of the package an INSTALLED_APPS entry names (an app, or
    an AppConfig inside one); None if it is not here (in the static stage:
    one of this project's apps without a static/ directory)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:end]))
        # A module of a package absent from the stage, or one that needs the
        # apps loaded: its package is what counts.
        except Exception:  # noqa: S112
            continue
        if spec is not None and spec.submodule_search_locations:
            return Path(next(iter(spec.submodule_search_locations)))
    return None


INSTALLED_APPS = ["django.contrib.staticfiles"]
# The settings' log formatter lives in a module the stage does not have.
LOGGING = {"version": 1, "disable_existing_loggers": False}
STATICFILES_DIRS = [
    *STATICFILES_DIRS,
    *(
        directory / "static"
        for directory in map(package_dir, _INSTALLED_APPS)
        if directory is not None and (directory / "static").is_dir()
    ),
]
