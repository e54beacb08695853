"""Per-IP rate limits (Flask-Limiter) on subscribe and confirm, with a friendly 429 page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from outreach.extensions import db
from tests.conftest import make_app
from tests.factories import make_audience
from tests.helpers import csrf_token
from tests.public.support import FORM, counts

SUBSCRIBE_PER_MINUTE = 20
CONFIRM_PER_MINUTE = 30


@contextmanager
def limited_app(database_template: str, tmp_path: Path) -> Iterator[Flask]:
    """An app with rate limiting switched on, its context pushed, torn down after."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    app = make_app(database_template, tmp_path, RATELIMIT_ENABLED=True)
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def _post_form(client, ip: str = "127.0.0.1"):  # noqa: ANN001, ANN202
    """An opt-in POST with a valid token but no box ticked (400, stores nothing)."""
    client.environ_base["REMOTE_ADDR"] = ip
    token = csrf_token(client.get(FORM).get_data(as_text=True))
    return client.post(FORM, data={"csrf_token": token, "email": "ann@example.org"})


def _assert_friendly_429(page) -> None:  # noqa: ANN001
    assert page.status_code == 429
    html = page.get_data(as_text=True)
    assert "Slow down a little" in html and "wait a minute" in html
    assert int(page.headers["Retry-After"]) > 0


def test_subscribe_posts_are_limited_per_ip(database_template, tmp_path):
    with limited_app(database_template, tmp_path) as app:
        make_audience()
        client = app.test_client()
        before = counts()
        for _ in range(SUBSCRIBE_PER_MINUTE):
            assert _post_form(client).status_code == 400
        _assert_friendly_429(_post_form(client))
        ok = client.post(
            FORM,
            data={
                "csrf_token": csrf_token(client.get(FORM).get_data(as_text=True)),
                "email": "ann@example.org",
                "consent_email": "y",
            },
        )
        _assert_friendly_429(ok)  # even a valid submission waits
        assert counts() == before
        assert client.get(FORM).status_code == 200  # reading the form is not limited
        other = app.test_client()
        assert _post_form(other, ip="198.51.100.20").status_code == 400  # another address


def test_confirm_posts_are_limited_per_ip(database_template, tmp_path):
    with limited_app(database_template, tmp_path) as app:
        client = app.test_client()
        for _ in range(CONFIRM_PER_MINUTE):
            assert client.post("/confirm/guessing-tokens", data={}).status_code == 400
        _assert_friendly_429(client.post("/confirm/guessing-tokens", data={}))
        assert client.get("/confirm/guessing-tokens").status_code == 400  # GET not counted


def test_one_click_unsubscribe_is_never_limited(database_template, tmp_path):
    """Mailbox providers send many one-click POSTs from few addresses."""
    with limited_app(database_template, tmp_path) as app:
        client = app.test_client()
        for _ in range(CONFIRM_PER_MINUTE + 5):
            page = client.post("/unsubscribe/x", data={"List-Unsubscribe": "One-Click"})
            assert page.status_code == 400  # a bad token, but never a 429


def test_each_app_starts_with_fresh_limiter_storage(database_template, tmp_path):
    with limited_app(database_template, tmp_path / "first") as app:
        make_audience()
        client = app.test_client()
        for _ in range(SUBSCRIBE_PER_MINUTE):
            _post_form(client)
        _assert_friendly_429(_post_form(client))
    with limited_app(database_template, tmp_path / "second") as app:
        make_audience()
        assert _post_form(app.test_client()).status_code == 400
