"""Invitations and password resets by email through the pages: signed single-use links
that expire (24 h / 1 h), the same answer for known and unknown addresses, the password
policy, scrypt hashes (old pbkdf2 hashes still verify and are upgraded)."""

from __future__ import annotations

import time

import pytest
from flask import current_app
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from outreach.extensions import db
from outreach.models import AuditLog, StaffUser
from outreach.staff import accounts, links, passwords
from tests.admin.signin_support import links_in_mailbox, password_step
from tests.admin.support import PASSWORD, login, post, text
from tests.helpers import submit_form

NEW_PASSWORD = "plum orchard lantern 42"


def _choose(client, link: str, password: str, again: str | None = None):  # noqa: ANN001, ANN202
    """POST the choose-a-password form behind a link (CSRF token from the session)."""
    path = link.split("outreach.example.org", 1)[-1]
    return submit_form(
        client,
        path,
        {"password": password, "password_again": password if again is None else again},
        page_url="/admin/forgot",
    )


def _staff_count() -> int:
    return db.session.scalar(select(func.count(StaffUser.id)))


def test_an_admin_invites_by_address_and_role_and_the_link_works_once(admin, client):
    sent = post(
        admin, "/admin/staff/invite", {"email": "Nurse.Joy@Clinic.example", "role": "viewer"}
    )
    assert sent.status_code == 303
    page = text(admin.get("/admin/staff"))
    assert "If nurse.joy@clinic.example has no account yet, an invitation" in page
    (link,) = links_in_mailbox("nurse.joy@clinic.example")
    assert "/admin/invite/" in link

    opened = client.get(link.split("outreach.example.org", 1)[1])
    assert opened.status_code == 200 and "nurse.joy@clinic.example" in text(opened)
    for bad, why in [
        ("short pass", "at least 12 characters"),
        ("password1234", "too common"),
        ("Qwertyuiop123!", "too common"),
        ("nurse.joy-was-here-2027", "must not contain your email"),
    ]:
        refused = _choose(client, link, bad)
        assert refused.status_code == 400 and why in text(refused), bad
    mismatch = _choose(client, link, NEW_PASSWORD, again=NEW_PASSWORD + "x")
    assert mismatch.status_code == 400 and "not the same" in text(mismatch)
    assert accounts.by_email("nurse.joy@clinic.example") is None

    done = _choose(client, link, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["Location"].endswith("/admin/login")
    user = accounts.by_email("nurse.joy@clinic.example")
    assert user.role == "viewer" and user.password_hash.startswith("pbkdf2:")  # cheap in tests
    again = client.get(link.split("outreach.example.org", 1)[1])
    assert again.status_code == 400 and "already used" in text(again)
    login(client, "nurse.joy@clinic.example", NEW_PASSWORD)
    actions = db.session.scalars(select(AuditLog.action)).all()
    assert "staff.invite" in actions and "staff.invite_accept" in actions


def test_inviting_a_known_address_says_the_same_and_sends_nothing(admin, staff_users):
    before = _staff_count()
    known = post(admin, "/admin/staff/invite", {"email": "editor@clinic.example", "role": "admin"})
    unknown = post(
        admin, "/admin/staff/invite", {"email": "someone@clinic.example", "role": "admin"}
    )
    assert known.status_code == unknown.status_code == 303
    assert links_in_mailbox("editor@clinic.example") == []
    assert len(links_in_mailbox("someone@clinic.example")) == 1
    assert _staff_count() == before
    assert db.session.get(StaffUser, staff_users["editor"]).role == "editor"
    bad = post(admin, "/admin/staff/invite", {"email": "not-an-address", "role": "admin"})
    assert bad.status_code == 400 and "enter an email address" in text(bad)
    bad_role = post(admin, "/admin/staff/invite", {"email": "x@clinic.example", "role": "owner"})
    assert bad_role.status_code == 400


def test_only_admins_invite(editor, viewer):
    for who in (editor, viewer):
        refused = post(who, "/admin/staff/invite", {"email": "x@clinic.example", "role": "admin"})
        assert refused.status_code == 403
    assert links_in_mailbox("x@clinic.example") == []


def _backdated(monkeypatch, seconds: int):  # noqa: ANN001, ANN202
    """Make the next signed staff links as if made ``seconds`` ago; returns the undo."""

    class Backdated(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    real = links._serializer
    monkeypatch.setattr(
        links,
        "_serializer",
        lambda purpose: URLSafeTimedSerializer(
            current_app.config["SECRET_KEY"], salt=f"outreach.staff.{purpose}", signer=Backdated
        ),
    )
    return lambda: monkeypatch.setattr(links, "_serializer", real)


def test_an_invitation_expires_after_24_hours(admin, client, monkeypatch):
    restore = _backdated(monkeypatch, 24 * 3600 + 60)
    post(admin, "/admin/staff/invite", {"email": "late@clinic.example", "role": "editor"})
    restore()
    (link,) = links_in_mailbox("late@clinic.example")
    expired = client.get(link.split("outreach.example.org", 1)[1])
    assert expired.status_code == 400 and "expired" in text(expired)
    assert _choose(client, link, NEW_PASSWORD).status_code == 400
    assert accounts.by_email("late@clinic.example") is None


def _forgot(client, email: str):  # noqa: ANN001, ANN202
    return submit_form(client, "/admin/forgot", {"email": email})


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(client, staff_users):
    known = _forgot(client, "editor@clinic.example")
    unknown = _forgot(client, "nobody@clinic.example")
    assert known.status_code == unknown.status_code == 200
    assert text(known) == text(unknown)
    assert "If that address belongs to a staff account" in text(known)
    assert len(links_in_mailbox("editor@clinic.example")) == 1
    assert links_in_mailbox("nobody@clinic.example") == []


def test_a_reset_link_sets_a_new_password_once_and_ends_other_sessions(
    app, client, editor, staff_users
):
    assert editor.get("/admin/campaigns").status_code == 200
    _forgot(client, "editor@clinic.example")
    (link,) = links_in_mailbox("editor@clinic.example")
    assert "/admin/reset/" in link
    assert _choose(client, link, "password123456").status_code == 400
    assert _choose(client, link, NEW_PASSWORD).status_code == 303
    # the old password is gone, the session signed in with it ended
    assert password_step(app.test_client(), "editor@clinic.example").status_code == 401
    assert editor.get("/admin/campaigns").status_code == 302
    login(client, "editor@clinic.example", NEW_PASSWORD)
    reused = _choose(app.test_client(), link, "another fine password 7")
    assert reused.status_code == 400 and "already used" in text(reused)
    assert "staff.password_reset" in db.session.scalars(select(AuditLog.action)).all()


def test_a_reset_link_expires_after_an_hour_and_a_forged_one_is_refused(
    client, staff_users, monkeypatch
):
    restore = _backdated(monkeypatch, 3600 + 60)
    _forgot(client, "editor@clinic.example")
    restore()
    (link,) = links_in_mailbox("editor@clinic.example")
    assert "expired" in text(client.get(link.split("outreach.example.org", 1)[1]))
    forged = client.get("/admin/reset/" + "x" * 40)
    assert forged.status_code == 400 and "not valid" in text(forged)
    # an invitation token is not a reset token
    invite_path = link.split("outreach.example.org", 1)[1].replace("/reset/", "/invite/")
    assert client.get(invite_path).status_code == 400


@pytest.mark.parametrize(
    "password,ok",
    [
        ("correct horse battery", True),
        ("Password2024!", False),
        ("  letmein  letmein ", False),
        ("aaaaaaaaaaaaaaa", False),
        ("x" * 201, False),
        ("tiny", False),
    ],
)
def test_the_password_policy(password, ok):
    assert (passwords.problem(password) is None) is ok


def test_the_common_password_list_ships_with_the_project():
    common = passwords.common_passwords()
    assert len(common) > 200 and "password" in common and "qwerty123456" in common


def test_new_hashes_are_scrypt_and_old_pbkdf2_hashes_still_verify(app, client):
    assert accounts.hash_password("anything at all").startswith("scrypt:")
    old = StaffUser(
        email="old@clinic.example",
        password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:600000"),
        role="editor",
    )
    db.session.add(old)
    db.session.commit()
    login(client, "old@clinic.example")
    db.session.expire_all()
    upgraded = accounts.by_email("old@clinic.example").password_hash
    assert upgraded.startswith("scrypt:") and check_password_hash(upgraded, PASSWORD)


def test_changing_ones_password_keeps_this_session_and_ends_the_others(app, editor, staff_users):
    from tests.admin.conftest import logged_in

    phone = logged_in(app, "editor")
    common = post(
        editor,
        "/admin/account/password",
        {"password": "iloveyou1234", "password_again": "iloveyou1234"},
    )
    assert common.status_code == 303 and "too common" in text(editor.get("/admin/account"))
    done = post(
        editor,
        "/admin/account/password",
        {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert done.status_code == 303
    assert "other sessions have ended" in text(editor.get("/admin/account"))
    assert editor.get("/admin/campaigns").status_code == 200
    assert phone.get("/admin/campaigns").status_code == 302
    login(app.test_client(), "editor@clinic.example", NEW_PASSWORD)
    assert "staff.password_change" in db.session.scalars(select(AuditLog.action)).all()
