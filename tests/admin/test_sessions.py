"""Sessions through the pages: idle timeout, absolute lifetime, re-authentication before
sensitive actions, a new session at sign-in, sign out everywhere, cookie flags and the
security headers on every response."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from outreach import CONTENT_SECURITY_POLICY
from outreach.config import load_config
from outreach.extensions import db
from outreach.models import ApiToken, Campaign, Subscriber
from tests.admin.signin_support import SessionClock, code_at, enrol
from tests.admin.support import PASSWORD, login, post, text
from tests.conftest import make_app
from tests.factories import make_audience, make_campaign, make_subscriber
from tests.helpers import csrf_token

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.fixture
def session_clock(app) -> SessionClock:  # noqa: ANN001
    return SessionClock(app)


def test_idle_for_30_minutes_signs_out(session_clock, editor):
    session_clock.advance(29)
    assert editor.get("/admin/campaigns").status_code == 200  # activity restarts the wait
    session_clock.advance(29)
    assert editor.get("/admin/campaigns").status_code == 200
    session_clock.advance(31)
    out = editor.get("/admin/subscribers")
    assert out.status_code == 302 and "/admin/login" in out.headers["Location"]
    assert "next=/admin/subscribers" in out.headers["Location"]
    login_page = text(editor.get("/admin/login"))
    assert "signed out after 30 minutes without activity" in login_page
    assert editor.get("/admin/campaigns").status_code == 302  # and it stays signed out


def test_background_polling_is_not_activity(session_clock, editor):
    campaign = make_campaign(make_audience(), [{"channel": "email"}], schedule=False)
    session_clock.advance(20)
    assert editor.get(f"/admin/campaigns/{campaign.id}/results.json").status_code == 200
    session_clock.advance(15)
    assert editor.get("/admin/campaigns").status_code == 302


def test_a_session_lasts_12_hours_at_most(session_clock, editor):
    for _ in range(12 * 60 // 25):
        session_clock.advance(25)
        assert editor.get("/admin/campaigns").status_code == 200
    session_clock.advance(25)
    ended = editor.get("/admin/campaigns")
    assert ended.status_code == 302
    assert "Your session has ended" in text(editor.get("/admin/login"))


def test_sensitive_actions_ask_for_the_password_again(session_clock, admin, staff_users):
    person = make_subscriber(make_audience(), email="ann@example.org")
    erase = f"/admin/privacy/{person.public_id}/erase"
    assert admin.get(erase).status_code == 200  # fresh from sign-in
    session_clock.advance(11)
    asked = admin.get(erase)
    assert asked.status_code == 303 and "/admin/reauth" in asked.headers["Location"]
    # a POST changes nothing and goes to the same question
    refused = post(admin, erase, {"confirm": "yes", "word": "ERASE"})
    assert refused.status_code == 303 and "/admin/reauth" in refused.headers["Location"]
    db.session.expire_all()
    assert db.session.get(Subscriber, person.id).erased_at is None
    for url in (
        f"/admin/privacy/{person.public_id}/export.json",
        f"/admin/privacy/{person.public_id}/evidence.csv",
        f"/admin/subscribers/{person.id}/evidence.json",
        "/admin/audit/export.csv",
    ):
        assert admin.get(url).status_code == 303, url
    for url, form in [
        ("/admin/api-tokens", {"name": "clinic CRM"}),
        (f"/admin/staff/{staff_users['viewer']}", {"role": "admin", "active": "yes"}),
        ("/admin/staff/invite", {"email": "x@clinic.example", "role": "admin"}),
    ]:
        assert post(admin, url, form).status_code == 303, url
    assert db.session.scalar(select(ApiToken)) is None

    page = admin.get("/admin/reauth?next=" + erase)
    wrong = admin.post(
        "/admin/reauth?next=" + erase,
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "password": "nope"},
    )
    assert wrong.status_code == 401
    right = admin.post(
        "/admin/reauth?next=" + erase,
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "password": PASSWORD},
    )
    assert right.status_code == 303 and right.headers["Location"].endswith(erase)
    done = post(admin, erase, {"confirm": "yes", "word": "ERASE"})
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Subscriber, person.id).erased_at is not None


def test_scheduling_needs_a_recent_sign_in_and_reauth_asks_for_the_code_when_enrolled(
    session_clock, app, editor, staff_users, clock
):
    secret, _ = enrol(staff_users["editor"])
    campaign = make_campaign(make_audience(), [{"channel": "email"}], schedule=False)
    session_clock.advance(11)
    asked = post(editor, f"/admin/campaigns/{campaign.id}/schedule", {"confirm": "yes"})
    assert asked.status_code == 303 and "/admin/reauth" in asked.headers["Location"]
    assert db.session.get(Campaign, campaign.id).status == "draft"
    page = editor.get("/admin/reauth")
    assert 'name="code"' in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    no_code = editor.post("/admin/reauth", data={"csrf_token": token, "password": PASSWORD})
    assert no_code.status_code == 401
    with_code = editor.post(
        "/admin/reauth",
        data={"csrf_token": token, "password": PASSWORD, "code": code_at(secret, clock.current)},
    )
    assert with_code.status_code == 303


def test_sign_in_starts_a_new_session(client, staff_users):
    with client.session_transaction() as before:
        before["planted"] = "by someone else"
    login(client, "editor@clinic.example")
    with client.session_transaction() as after:
        assert "planted" not in after
        assert {"started_at", "seen_at", "auth_at", "sv"} <= set(after)


def test_sign_out_everywhere_ends_every_session_of_the_account(app, editor, staff_users):
    from tests.admin.conftest import logged_in

    laptop = logged_in(app, "editor")
    other_account = logged_in(app, "viewer")
    assert laptop.get("/admin/campaigns").status_code == 200
    out = post(editor, "/admin/account/sign-out-everywhere")
    assert out.status_code == 303
    assert editor.get("/admin/campaigns").status_code == 302
    assert laptop.get("/admin/campaigns").status_code == 302
    assert other_account.get("/admin/campaigns").status_code == 200
    login(laptop, "editor@clinic.example")  # signing in again works
    assert laptop.get("/admin/campaigns").status_code == 200


def test_cookie_flags_in_production():
    config = load_config({"OUTREACH_ENV": "production", "SECRET_KEY": "x" * 40})
    assert config["SESSION_COOKIE_SECURE"] and config["SESSION_COOKIE_HTTPONLY"]
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["REMEMBER_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


def test_the_session_cookie_is_httponly_and_lax(client, staff_users):
    page = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": "editor@clinic.example",
            "password": PASSWORD,
        },
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    "url", ["/admin/login", "/subscribe/migraine-awareness", "/api/v1/audiences", "/healthz"]
)
def test_security_headers_on_every_response(client, url):
    make_audience()
    response = client.get(url)
    headers = response.headers
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    script_src = re.search(r"script-src ([^;]+)", CONTENT_SECURITY_POLICY).group(1)
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers  # not outside production


def test_hsts_in_production(database_template, tmp_path):
    production = make_app(database_template, tmp_path, OUTREACH_ENV="production")
    response = production.test_client().get("/admin/login")
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    with production.app_context():
        db.engine.dispose()


def test_no_template_has_an_inline_script_or_handler():
    for path in TEMPLATES.rglob("*.html"):
        if "messages" in path.parts:
            continue  # emails: never run in our pages (sandboxed previews)
        source = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), path
        assert not re.search(r"\son[a-z]+\s*=\s*[\"']", source), path
        assert "javascript:" not in source, path
