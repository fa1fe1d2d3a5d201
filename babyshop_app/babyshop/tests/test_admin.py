import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/admin/", "/admin/users/user/", "/admin/users/user/add/"])
def test_admin_pages_load(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_admin_requires_staff(client):
    response = client.get("/admin/users/user/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
