"""Browser-side policies on every kind of page: CSP and Permissions-Policy."""

import re

import pytest

pytestmark = pytest.mark.django_db

PAGES = ["/", "/accounts/login/", "/admin/login/", "/admin/"]


def directives(header):
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_a_strict_content_security_policy(client, admin_user, page):
    if page == "/admin/":
        client.force_login(admin_user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(page)
    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    for kind in ("script-src", "style-src"):
        assert "'self'" in policy[kind]
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(policy[kind]), kind


@pytest.mark.parametrize("page", PAGES)
def test_every_page_switches_off_unused_browser_features(client, admin_user, page):
    if page == "/admin/":
        client.force_login(admin_user, backend="django.contrib.auth.backends.ModelBackend")
    header = client.get(page)["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in header


@pytest.mark.parametrize("page", ["/", "/accounts/login/", "/admin/login/"])
def test_pages_carry_no_inline_script_or_style(client, page):
    """What the policy forbids must not be on the page: no <script> without a
    src, no <style> element, no style= or on*= attribute."""
    html = client.get(page).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    assert not re.search(r"\s(style|on[a-z]+)=", html)
