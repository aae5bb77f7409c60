"""Every main page renders for the people who may see it."""
from tests import factories
from tests.conftest import login


def test_public_pages_render(client):
    factories.tutor()
    for path in ("/", "/tutors", "/login", "/register"):
        response = client.get(path)
        assert response.status_code == 200, path


def test_tutor_pages_render_for_a_tutor(client):
    t, _ = factories.tutor()
    login(client, t.email, factories.PASSWORD)
    for path in ("/tutor/", "/tutor/availability", "/tutor/teaches", "/tutor/profile", "/settings"):
        response = client.get(path)
        assert response.status_code == 200, path
