"""Fuzzing every staff form (sign-in, code, re-authentication, forgotten password,
reset and invitation links, enrolment, staff creation, invitation, role change, 2FA
reset, API token), then every other POST route of the workspace: arbitrary bodies never
cause a 500, and a refused request changes nothing (failed sign-ins are counted: that is
the lockout working)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from outreach.extensions import db
from outreach.models import ApiToken, Campaign, StaffUser
from outreach.models.staff import LoginFailure, RecoveryCode, StaffLink
from outreach.staff import links
from tests.admin.signin_support import enrol, links_in_mailbox, password_step
from tests.admin.support import login, token
from tests.admin.test_auth import _post_routes
from tests.factories import make_audience, make_campaign, make_subscriber
from tests.helpers import csrf_token

FIELDS = [
    "email",
    "password",
    "password_again",
    "code",
    "role",
    "active",
    "confirm",
    "name",
    "csrf_token",
]
INTERESTING = [
    "",
    " ",
    "\x00",
    "yes",
    "no",
    "admin",
    "editor",
    "viewer",
    "owner",
    "editor@clinic.example",
    "EDITOR@CLINIC.EXAMPLE ",
    "nobody@clinic.example",
    "correct horse battery",
    "password1234",
    "000000",
    "123456",
    "AAAA-BBBB-CCCC-DDDD",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\u202e\ufeff",
    "🙂" * 40,
    "x" * 5_000,
]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
names = st.one_of(st.sampled_from(FIELDS), st.text(max_size=20))
values = st.one_of(st.sampled_from(INTERESTING), st.text(max_size=120))
bodies = st.dictionaries(names, st.one_of(values, st.lists(values, max_size=3)), max_size=6)


def snapshot() -> tuple:
    """What a refused request must not change."""
    db.session.expire_all()
    users = db.session.execute(
        select(
            StaffUser.id,
            StaffUser.email,
            StaffUser.role,
            StaffUser.active,
            StaffUser.password_hash,
            StaffUser.totp_secret,
            StaffUser.totp_confirmed_at,
            StaffUser.session_version,
        ).order_by(StaffUser.id)
    ).all()
    link_rows = db.session.execute(select(StaffLink.id, StaffLink.used_at)).all()
    codes = db.session.execute(select(RecoveryCode.id, RecoveryCode.used_at)).all()
    tokens = db.session.execute(select(ApiToken.id, ApiToken.revoked_at)).all()
    return tuple(map(tuple, users)), tuple(link_rows), tuple(codes), tuple(tokens)


def _forget_failures() -> None:
    """Each example starts unlocked (else the lockout would answer every later one)."""
    db.session.execute(delete(LoginFailure))
    db.session.commit()


def _fuzz(client, url: str, body: dict, csrf: str, with_token: bool) -> None:  # noqa: ANN001
    data = dict(body)
    if with_token:
        data["csrf_token"] = csrf
    before = snapshot()
    response = client.post(url, data=data)
    assert response.status_code < 500, (response.status_code, url, data)
    if response.status_code >= 400:
        assert snapshot() == before, (url, response.status_code, data)


@pytest.fixture
def link_tokens(app, staff_users) -> dict[str, str]:  # noqa: ANN001
    """A live reset link for the editor and a live invitation."""
    links.request_reset("editor@clinic.example")
    links.invite("new@clinic.example", "viewer", staff_users["admin"])
    db.session.commit()
    (reset,) = links_in_mailbox("editor@clinic.example")
    (invite,) = links_in_mailbox("new@clinic.example")
    return {
        "reset": reset.split("outreach.example.org", 1)[1],
        "invite": invite.split("outreach.example.org", 1)[1],
    }


ANONYMOUS = ["/admin/login", "/admin/forgot", "reset", "invite"]
ADMIN = ["/admin/staff", "/admin/staff/invite", "staff_update", "2fa_reset", "/admin/api-tokens"]
SIGNED_IN = ["/admin/reauth", "/admin/account/two-factor", "/admin/account/password"]


@pytest.mark.parametrize("target", ANONYMOUS)
@FUZZ
@given(body=bodies, with_token=st.booleans())
def test_sign_in_and_link_forms(client, link_tokens, target, body, with_token):
    _forget_failures()
    url = link_tokens.get(target, target)
    page = client.get("/admin/login")
    _fuzz(client, url, body, csrf_token(page.get_data(as_text=True)), with_token)


@FUZZ
@given(body=bodies, with_token=st.booleans())
def test_the_code_step(app, client, staff_users, body, with_token):
    _forget_failures()
    enrolled = db.session.get(StaffUser, staff_users["viewer"])
    if not enrolled.two_factor_enabled:
        enrol(enrolled.id)
    assert password_step(client, "viewer@clinic.example").status_code == 302
    page = client.get("/admin/forgot")
    _fuzz(client, "/admin/login/code", body, csrf_token(page.get_data(as_text=True)), with_token)


@pytest.mark.parametrize("target", ADMIN)
@FUZZ
@given(body=bodies, with_token=st.booleans())
def test_admin_staff_forms(admin, staff_users, target, body, with_token):
    url = {
        "staff_update": f"/admin/staff/{staff_users['editor']}",
        "2fa_reset": f"/admin/staff/{staff_users['viewer']}/two-factor/reset",
    }.get(target, target)
    _fuzz(admin, url, body, token(admin), with_token)


@pytest.mark.parametrize("target", SIGNED_IN)
@FUZZ
@given(body=bodies, with_token=st.booleans())
def test_signed_in_forms(editor, target, body, with_token):
    _forget_failures()
    if editor.get("/admin/campaigns").status_code != 200:  # signed out by an earlier lockout
        login(editor, "editor@clinic.example")
    editor.get("/admin/account/two-factor")  # a pending secret exists before the snapshot
    _fuzz(editor, target, body, token(editor), with_token)


def _every_row() -> tuple:
    """Every table's rows (the database is small here), failed sign-ins aside."""
    db.session.expire_all()
    return tuple(
        (table.name, tuple(map(tuple, db.session.execute(select(table)).all())))
        for table in db.metadata.sorted_tables
        if table.name != "login_failures"
    )


@settings(FUZZ, max_examples=150)
@given(body=bodies, route=st.integers(min_value=0, max_value=10_000))
def test_every_staff_workspace_form(app, admin, staff_users, body, route):
    """Any POST route of /admin with any body, as an admin who signed in just now."""
    if db.session.get(Campaign, 1) is None:
        audience = make_audience()
        make_subscriber(audience, email="ann@example.org", phone="+19175550142")
        make_campaign(audience, [{"channel": "email"}, {"channel": "sms"}], schedule=False)
    urls = _post_routes(app)
    url = urls[route % len(urls)]
    before = _every_row()
    response = admin.post(url, data={**body, "csrf_token": token(admin)})
    assert response.status_code < 500, (response.status_code, url, body)
    if response.status_code >= 400:
        assert _every_row() == before, (url, response.status_code, body)
