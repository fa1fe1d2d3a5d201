"""The core's own home page: what / shows when no app of the project claims it."""

import pytest
from django.urls import reverse

from babyshop import urls

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

# The project's URLs without any app's own include at /.
urlpatterns = [p for p in urls.urlpatterns if str(p.pattern) != "" or getattr(p, "name", None) == "home"]


def test_the_starter_page_answers_the_site_root(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "home.html" in [template.name for template in response.templates]
    assert reverse("home") == "/"


def test_links_home_lead_to_it(client):
    """The brand in the header, the 404 page and log-out all lead home."""
    assert b'class="brand" href="/"' in client.get("/").content
    assert b'href="/">Back to the home page</a>' in client.get("/nowhere/").content
