"""``/r/<code>`` answered before Flask (``public.fast_links``): the same answer as the Flask
view, which still serves requests with cookies, 404s and errors."""

from __future__ import annotations

import pytest

from outreach.tracking import clicks as tracking
from tests.tracking import test_click_tracking as case
from tests.tracking.test_click_tracking import BROWSER, CODE, clicks, personal_html, sent_email

fake = case.fake
audience = case.audience


@pytest.fixture
def flask_views(app):  # noqa: ANN001, ANN201
    """Counts requests the Flask view answered."""
    seen: list[str] = []
    view = app.view_functions["public.tracked_link"]

    def counted(code: str):  # noqa: ANN202
        seen.append(code)
        return view(code)

    app.view_functions["public.tracked_link"] = counted
    return seen


def _answer(response) -> tuple:  # noqa: ANN001
    return response.status, sorted(response.headers.items()), response.get_data()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_fast_answer_is_the_flask_answer(
    app, client, clock, fake, audience, flask_views, method
):
    sent_email(fake, audience, clock)
    for code in CODE.findall(personal_html(fake)):  # the second link has a query string
        fast = client.open(f"/r/{code}", method=method, headers={"User-Agent": BROWSER})
        assert flask_views == []
        clock.advance(minutes=5)
        client.set_cookie("theme", "dark")  # a cookie: Flask's view answers
        slow = client.open(f"/r/{code}", method=method, headers={"User-Agent": BROWSER})
        client.delete_cookie("theme")
        assert flask_views == [code]
        flask_views.clear()
        assert fast.status_code == 302
        assert _answer(fast) == _answer(slow)
        clock.advance(minutes=5)
    kinds = {"GET": (True, None), "HEAD": (False, "head")}
    assert [(c.human, c.reason) for c in clicks()] == [kinds[method]] * 4


def test_unknown_codes_and_other_methods_go_to_flask(
    app, client, clock, fake, audience, flask_views
):
    sent_email(fake, audience, clock)
    code = CODE.findall(personal_html(fake))[0]
    assert client.get("/r/nonsense").status_code == 404
    assert client.post(f"/r/{code}").status_code == 405
    assert client.get(f"/r/{code}/more").status_code == 404
    assert flask_views == ["nonsense"]
    assert clicks() == []


def test_a_database_failure_is_answered_by_flask(app, client, clock, fake, audience, monkeypatch):
    sent_email(fake, audience, clock)
    code = CODE.findall(personal_html(fake))[0]

    def broken(*args: object) -> None:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(tracking, "follow", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    answer = client.get(f"/r/{code}", headers={"User-Agent": BROWSER})
    assert answer.status_code == 500
    assert answer.headers["X-Frame-Options"] == "DENY"  # Flask's hooks ran
    assert "Location" not in answer.headers
