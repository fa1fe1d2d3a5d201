"""Every request runs the whole MIDDLEWARE chain, a user's own middleware
included, whoever the visitor is and whatever is cached."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from products.tests.test_shop import add

MARK = "X-Whole-Chain"
# The mark of each request the middleware saw, in order.
marks = []


class MarkEveryResponse:
    """A user's middleware, last in the chain: it sees the request only if
    every middleware before it let the request through. Its mark is new for
    each request, so a response stored whole and served again has an old one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        marks.append(uuid.uuid4().hex)
        response[MARK] = marks[-1]
        return response


@pytest.fixture(autouse=True)
def users_middleware(settings):
    marks.clear()
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.MarkEveryResponse"]


@pytest.fixture(params=["anonymous", "logged in", "with a cart"])
def visitor(request, client, make_product):
    if request.param == "logged in":
        client.force_login(get_user_model().objects.create_user("ann", "ann@example.com", "pw-Example-1"))
    if request.param == "with a cart":
        add(client, make_product(slug="rattle", stock=3))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/", "/category/toys/", "/products/monitor/"])
def test_each_page_runs_the_whole_chain_every_time(visitor, make_product, page):
    make_product(slug="monitor", stock=5)
    Client().get(page)  # what a cache of whole pages would keep: a page for a visitor without a session
    for _ in range(2):  # rendered, then with its fragments from the cache
        seen = len(marks)
        response = visitor.get(page)
        assert response.status_code == 200
        assert len(marks) == seen + 1, "the last middleware saw this request"
        assert response[MARK] == marks[-1]
