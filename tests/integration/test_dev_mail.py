"""The dev mail viewer shows everyone's mail with working links: only when turned on, and only to this machine."""
import pytest

from webapp.extensions import db
from webapp.services import outbox


@pytest.fixture
def viewer_on(app):
    app.config["DEV_MAIL_VIEWER"] = True
    outbox.enqueue_email("password_reset", "someone@example.com",
                         {"name": "Someone", "url": "http://localhost/reset/secret-token", "zone": "Europe/London"})
    db.session.commit()
    yield
    app.config["DEV_MAIL_VIEWER"] = False


def test_the_viewer_does_not_exist_under_testing_unless_a_test_turns_it_on(client):
    assert client.get("/dev/mail").status_code == 404


def test_the_viewer_answers_the_local_machine_and_says_who_it_is_for(client, viewer_on):
    for address in ("127.0.0.1", "::1"):
        response = client.get("/dev/mail", environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "someone@example.com" in page
        assert "only in development and only to this machine" in page


def test_a_request_from_another_machine_is_refused_in_words(client, viewer_on):
    response = client.get("/dev/mail", environ_base={"REMOTE_ADDR": "192.168.1.20"})
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "someone@example.com" not in page
    assert "only requests made on the machine" in page
    message = client.get("/dev/mail/1", environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert message.status_code == 403 and "secret-token" not in message.get_data(as_text=True)


@pytest.mark.parametrize("headers", [{"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "127.0.0.1, 203.0.113.9"},
                                     {"Forwarded": "for=203.0.113.9"}])
def test_a_request_a_local_proxy_forwarded_from_elsewhere_is_refused(client, viewer_on, headers):
    response = client.get("/dev/mail", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 403
    assert "someone@example.com" not in response.get_data(as_text=True)
