"""The image's static files are collected with babyshop/collectstatic_settings.py."""

from pathlib import Path

from django.apps import apps

from babyshop import collectstatic_settings


def test_every_app_with_static_files_is_collected():
    """An installed app with a static/ directory that the build's collectstatic
    leaves out would 500 in production (no manifest entry): name it there."""
    collected = {Path(path) for path in collectstatic_settings.STATICFILES_DIRS}
    with_static = {Path(config.path) / "static" for config in apps.get_app_configs()}
    missing = sorted(str(path) for path in with_static if path.is_dir() and path not in collected)
    assert missing == [], "add these apps to collectstatic_settings.APPS_WITH_STATIC_FILES"
