"""Staff accounts: login, roles, rate limit, CSRF, logout, staff management."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from outreach.extensions import db
from outreach.models import Audience, AuditLog, Campaign, ConsentEvent, StaffUser, Step, Subscriber
from outreach.staff import accounts
from tests.admin.support import PASSWORD, login, post, text, token
from tests.conftest import make_app
from tests.factories import make_audience, make_campaign, make_subscriber
from tests.helpers import csrf_token


def _login_attempt(client, email: str, password: str):  # noqa: ANN001, ANN202
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": email,
            "password": password,
        },
    )


def test_create_admin_command_makes_a_login_that_works(app, client, cli):
    result = cli.invoke(
        args=["outreach", "create-admin", "--email", "Boss@Clinic.example", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert "Created admin boss@clinic.example" in result.output
    stored = db.session.scalar(select(StaffUser).filter_by(email="boss@clinic.example"))
    assert stored.password_hash != PASSWORD and PASSWORD not in stored.password_hash

    wrong = _login_attempt(client, "boss@clinic.example", "not the password")
    assert wrong.status_code == 401
    assert "do not match" in text(wrong)

    ok = _login_attempt(client, "boss@clinic.example", PASSWORD)
    assert ok.status_code == 302
    home = client.get("/admin/")
    assert home.status_code == 200 and "boss@clinic.example (admin)" in text(home)


def test_create_admin_on_an_existing_address_offers_a_password_reset(app, client, cli):
    args = ["outreach", "create-admin", "--email", "boss@clinic.example", "--password"]
    assert cli.invoke(args=[*args, PASSWORD]).exit_code == 0
    new_password = "a brand new passphrase for June"

    declined = cli.invoke(args=[*args, new_password], input="n\n")
    assert declined.exit_code != 0 and "Reset its password?" in declined.output
    assert "nothing changed" in declined.output
    assert _login_attempt(client, "boss@clinic.example", PASSWORD).status_code == 302
    client.get("/admin/logout")

    accepted = cli.invoke(args=[*args, new_password], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Password of boss@clinic.example reset" in accepted.output
    assert _login_attempt(client, "boss@clinic.example", PASSWORD).status_code == 401
    assert _login_attempt(client, "boss@clinic.example", new_password).status_code == 302
    assert db.session.query(StaffUser).count() == 1

    weak = cli.invoke(args=[*args, "short", "--reset"])
    assert weak.exit_code != 0 and "Created" not in weak.output


def test_demo_on_an_existing_database_says_how_to_get_a_login(app, cli):
    first = cli.invoke(args=["outreach", "demo"])
    assert "Staff login (shown once): admin@outreach.local" in first.output
    again = cli.invoke(args=["outreach", "demo"])
    assert again.exit_code == 0
    assert "Staff accounts already exist" in again.output
    assert "flask outreach create-admin --email" in again.output


def test_pages_need_a_login(client, staff_users):
    page = client.get("/admin/campaigns")
    assert page.status_code == 302 and "/admin/login" in page.headers["Location"]


def test_logout_ends_the_session(editor):
    assert editor.get("/admin/campaigns").status_code == 200
    out = post(editor, "/admin/logout")
    assert out.status_code == 302
    again = editor.get("/admin/campaigns")
    assert again.status_code == 302 and "/admin/login" in again.headers["Location"]


def test_login_is_rate_limited(database_template, tmp_path):
    limited = make_app(database_template, tmp_path, RATELIMIT_ENABLED=True)
    with limited.app_context():
        accounts.create_staff("editor@clinic.example", PASSWORD, "editor")
        db.session.commit()
        client = limited.test_client()
        # ten addresses, one wrong guess each: under the per-account lockout, over the limit
        codes = [
            _login_attempt(client, f"guess{i}@clinic.example", "guess").status_code
            for i in range(10)
        ]
        assert codes == [401] * 10
        blocked = _login_attempt(client, "editor@clinic.example", PASSWORD)
        assert blocked.status_code == 429
        assert "wait a minute" in text(blocked)
        db.session.remove()
        db.engine.dispose()


def test_a_post_without_the_csrf_token_is_refused(editor):
    refused = editor.post(
        "/admin/audiences/new",
        data={"name": "No token", "slug": "no-token", "channels": "email"},
    )
    assert refused.status_code == 400
    assert db.session.scalar(select(func.count(Audience.id))) == 0
    # and the same form with the token goes through to validation
    checked = post(editor, "/admin/audiences/new", {"name": "No token", "slug": "no-token"})
    assert checked.status_code == 400 and "Please fix the highlighted fields" in text(checked)


def test_every_form_in_the_workspace_carries_a_csrf_token(editor):
    audience = make_audience()
    make_subscriber(audience, email="ann@example.org")
    campaign = make_campaign(audience, [{"channel": "email"}], schedule=False)
    pages = [
        "/admin/campaigns",
        "/admin/audiences/new",
        f"/admin/audiences/{audience.id}/edit",
        "/admin/import",
        "/admin/campaigns/new",
        f"/admin/campaigns/{campaign.id}",
        f"/admin/campaigns/{campaign.id}/preflight",
        f"/admin/steps/{campaign.steps[0].id}/edit",
        f"/admin/steps/{campaign.steps[0].id}/preview",
        f"/admin/campaigns/{campaign.id}/cancel",
    ]
    for url in pages:
        body = editor.get(url).get_data(as_text=True)
        forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", body, flags=re.S)
        assert forms, url
        for form in forms:
            assert 'name="csrf_token"' in form, url


#: Sign-in and one's own account: open to every role (tested in test_two_factor.py,
#: test_sessions.py, test_invites_and_resets.py).
OWN_ACCOUNT_ROUTES = {
    "admin.login",
    "admin.login_code",
    "admin.logout",
    "admin.reauth",
    "admin.forgot_password",
    "admin.password_reset",
    "admin.invite_accept",
    "admin.two_factor_setup",
    "admin.recovery_codes_renew",
    "admin.sign_out_everywhere",
    "admin.password_change",
    "admin.time_zone_change",
}


def _post_routes(app) -> list[str]:  # noqa: ANN001
    """Every POST route of the staff workspace, with ids filled in."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or "POST" not in rule.methods:
            continue
        if rule.endpoint in OWN_ACCOUNT_ROUTES:
            continue
        url = rule.rule
        url = re.sub(  # the first choice of an any(...) converter
            r"<any\(([^),]*)[^)]*\):[a-z_]+>", lambda m: m.group(1).strip("'\" "), url
        )
        url = re.sub(r"<int:[a-z_]+>", "1", url)
        url = re.sub(r"<[a-z_]+>", "0" * 32, url)
        urls.append(url)
    return urls


def test_a_viewer_cannot_change_or_send_anything(app, viewer, staff_users):
    audience = make_audience()
    person = make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    make_campaign(audience, [{"channel": "email"}, {"channel": "sms"}], schedule=False)

    def snapshot() -> tuple:
        return tuple(
            db.session.scalar(select(func.count(model.id)))
            for model in (Audience, Campaign, Step, Subscriber, ConsentEvent, StaffUser, AuditLog)
        ) + (
            db.session.get(Campaign, 1).status,
            db.session.get(StaffUser, staff_users["editor"]).role,
        )

    before = snapshot()
    routes = _post_routes(app)
    assert len(routes) >= 15  # audiences, import, campaigns, steps, lifecycle, opt-out, staff ...
    form = {
        "csrf_token": token(viewer),
        "confirm": "yes",
        "acknowledge": "y",
        "name": "Changed",
        "role": "admin",
        "channel": "sms",
        "scope": "everywhere",
        "subscription": "1",
        "to": "viewer@clinic.example",
        "direction": "down",
        "body": "Changed",
    }
    for url in routes:
        response = viewer.post(url, data=form)
        assert response.status_code == 403, url
    db.session.expire_all()
    assert snapshot() == before
    assert db.session.get(Subscriber, person.id).subscriptions[0].state == "active"


def test_a_viewer_reads_pages_without_edit_buttons(viewer):
    audience = make_audience()
    campaign = make_campaign(audience, [{"channel": "email"}], schedule=False)
    page = text(viewer.get(f"/admin/campaigns/{campaign.id}"))
    assert "Step 1" in page
    assert "Add email" not in page and "Cancel…" not in page and "Edit" not in page
    assert viewer.get(f"/admin/steps/{campaign.steps[0].id}/edit").status_code == 403
    preview = text(viewer.get(f"/admin/steps/{campaign.steps[0].id}/preview"))
    assert "Viewers cannot send" in preview
    assert viewer.get("/admin/staff").status_code == 403


def test_admin_adds_staff_and_deactivation_ends_their_session(app, admin, staff_users):
    created = post(
        admin,
        "/admin/staff",
        {"email": "New.Person@Clinic.example", "role": "viewer", "password": PASSWORD},
    )
    assert created.status_code == 302
    assert "new.person@clinic.example can now log in as viewer" in text(admin.get("/admin/staff"))

    too_short = post(admin, "/admin/staff", {"email": "x@clinic.example", "password": "short"})
    assert too_short.status_code == 400 and "at least 12 characters" in text(too_short)

    editor_client = app.test_client()
    login(editor_client, "editor@clinic.example")
    assert editor_client.get("/admin/campaigns").status_code == 200
    assert editor_client.get("/admin/staff").status_code == 403

    off = post(admin, f"/admin/staff/{staff_users['editor']}", {"role": "editor", "active": "no"})
    assert off.status_code == 303
    kicked = editor_client.get("/admin/campaigns")
    assert kicked.status_code == 302 and "/admin/login" in kicked.headers["Location"]
    assert _login_attempt(app.test_client(), "editor@clinic.example", PASSWORD).status_code == 401

    promote = post(
        admin, f"/admin/staff/{staff_users['viewer']}", {"role": "editor", "active": "yes"}
    )
    assert promote.status_code == 303

    log = text(admin.get("/admin/audit"))
    assert "staff.create" in log and "new.person@clinic.example as viewer" in log
    assert "deactivated" in log and "role viewer -> editor" in log


def test_an_admin_cannot_lock_themselves_out(admin, staff_users):
    response = post(
        admin, f"/admin/staff/{staff_users['admin']}", {"role": "viewer", "active": "no"}
    )
    assert response.status_code == 303
    db.session.expire_all()
    me = db.session.get(StaffUser, staff_users["admin"])
    assert me.active and me.role == "admin"


@pytest.mark.parametrize("next_url", ["https://evil.example/admin", "//evil.example/x"])
def test_login_never_redirects_off_site(client, staff_users, next_url):
    page = client.get("/admin/login")
    response = client.post(
        f"/admin/login?next={next_url}",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": "editor@clinic.example",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
