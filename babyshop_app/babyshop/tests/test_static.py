"""The image's static files are collected with babyshop/collectstatic_settings.py."""

import sys
from pathlib import Path

from django.apps import apps

from babyshop import collectstatic_settings


def test_every_app_with_static_files_is_collected():
    """An installed app with a static/ directory that the build's collectstatic
    left out would 500 in production (no manifest entry)."""
    collected = {Path(path) for path in collectstatic_settings.STATICFILES_DIRS}
    with_static = {Path(config.path) / "static" for config in apps.get_app_configs()}
    missing = sorted(str(path) for path in with_static if path.is_dir() and path not in collected)
    assert missing == []


def test_an_app_is_found_by_its_config_and_with_only_its_static_files(tmp_path, monkeypatch):
    """In the static stage an app of this project is a static/ directory in
    a directory of its name: found even when named by its AppConfig."""
    (tmp_path / "scratch_app" / "static" / "scratch_app").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert collectstatic_settings.package_dir("scratch_app.apps.ScratchConfig") == tmp_path / "scratch_app"
    assert collectstatic_settings.package_dir("absent") is None
