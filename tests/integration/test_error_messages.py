"""The 500 page says "nothing was changed" only when the request committed nothing."""
from tests import factories


def _unexpected_error_page(app, *, commit_first: bool) -> str:
    with app.test_request_context("/settings", method="POST"):
        if commit_first:
            factories.user("student")  # the request's service committed a change before something failed
        response = app.handle_user_exception(RuntimeError("boom after the work"))
        response = app.make_response(response)
        assert response.status_code == 500
        return response.get_data(as_text=True)


def test_an_error_before_any_commit_says_nothing_was_changed(app):
    assert "Nothing was changed" in _unexpected_error_page(app, commit_first=False)


def test_an_error_after_a_commit_never_says_nothing_was_changed(app):
    page = _unexpected_error_page(app, commit_first=True)
    assert "Nothing was changed" not in page
    assert "part of your request was saved" in page
