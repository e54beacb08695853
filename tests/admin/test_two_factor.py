"""TOTP two-factor sign-in through the pages: enrolment (QR code, manual key, first
code, recovery codes shown once and stored hashed), the code step (drift of one step,
no replay), recovery codes, OUTREACH_REQUIRE_2FA, an admin's reset."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select

from outreach.config import load_config
from outreach.extensions import db
from outreach.models import AuditLog, StaffUser
from outreach.models.staff import RecoveryCode
from outreach.staff import accounts
from tests.admin.conftest import IsolatedClient
from tests.admin.signin_support import code_at, code_step, enrol, password_step
from tests.admin.support import PASSWORD, post, text
from tests.conftest import make_app
from tests.helpers import csrf_token


def _actions() -> list[str]:
    return db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()


def test_enrolment_shows_a_qr_code_and_key_and_needs_a_first_code(editor, staff_users, clock):
    page = editor.get("/admin/account/two-factor")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in body  # made here, no outside QR service
    assert page.headers["Cache-Control"] == "no-store"
    user = db.session.get(StaffUser, staff_users["editor"])
    secret = user.totp_secret
    shown_key = re.search(r'id="totp-key">([A-Z2-7 ]+)<', body).group(1)
    assert shown_key.replace(" ", "") == secret
    assert not user.two_factor_enabled  # pending until confirmed

    again = editor.get("/admin/account/two-factor")  # a reload keeps the scanned secret
    db.session.expire_all()
    assert db.session.get(StaffUser, staff_users["editor"]).totp_secret == secret
    assert again.status_code == 200

    wrong = post(editor, "/admin/account/two-factor", {"code": "000000"})
    assert wrong.status_code == 400 and "did not work" in text(wrong)
    db.session.expire_all()
    assert not db.session.get(StaffUser, staff_users["editor"]).two_factor_enabled

    done = post(editor, "/admin/account/two-factor", {"code": code_at(secret, clock.current)})
    assert done.status_code == 200 and done.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", text(done))
    assert len(codes) == 10 == len(set(codes))
    stored = db.session.scalars(
        select(RecoveryCode.code_hash).filter_by(staff_user_id=staff_users["editor"])
    ).all()
    assert sorted(stored) == sorted(
        hashlib.sha256(c.replace("-", "").encode()).hexdigest() for c in codes
    )
    assert not any(c in h or c.replace("-", "") in h for c in codes for h in stored)
    db.session.expire_all()
    assert db.session.get(StaffUser, staff_users["editor"]).two_factor_enabled
    assert "staff.2fa_enrol" in _actions()
    # shown once: the account page only counts them
    account = text(editor.get("/admin/account"))
    assert "10 of 10 recovery codes left" in account and codes[0] not in account


def test_sign_in_asks_for_the_code_accepts_one_step_of_drift_and_refuses_a_replay(
    app, client, staff_users, clock
):
    secret, _ = enrol(staff_users["editor"])
    first = password_step(client, "editor@clinic.example")
    assert first.status_code == 302 and "/admin/login/code" in first.headers["Location"]
    # the password alone opens nothing
    assert client.get("/admin/campaigns").status_code == 302

    late = code_at(secret, clock.current, steps=-1)  # the phone is 30 s behind
    signed_in = code_step(client, late)
    assert signed_in.status_code == 302
    assert client.get("/admin/campaigns").status_code == 200
    post(client, "/admin/logout")

    assert password_step(client, "editor@clinic.example").status_code == 302
    replay = code_step(client, late)
    assert replay.status_code == 401 and "did not work" in text(replay)
    current = code_step(client, code_at(secret, clock.current))
    assert current.status_code == 302
    post(client, "/admin/logout")

    clock.advance(seconds=30)
    assert password_step(client, "editor@clinic.example").status_code == 302
    too_far = code_step(client, code_at(secret, clock.current, steps=2))
    assert too_far.status_code == 401


def test_a_recovery_code_signs_in_once(client, staff_users, clock):
    _, codes = enrol(staff_users["viewer"])
    assert password_step(client, "viewer@clinic.example").status_code == 302
    assert code_step(client, codes[3].lower().replace("-", " ")).status_code == 302
    post(client, "/admin/logout")
    assert password_step(client, "viewer@clinic.example").status_code == 302
    assert code_step(client, codes[3]).status_code == 401
    assert "staff.2fa_recovery_code" in _actions()


def test_the_code_step_expires_and_needs_the_password_first(client, staff_users):
    enrol(staff_users["editor"])
    straight = client.get("/admin/login/code")
    assert straight.status_code == 302 and straight.headers["Location"].endswith("/admin/login")


def test_require_2fa_defaults_on_in_production_only():
    assert load_config({"OUTREACH_ENV": "production", "SECRET_KEY": "x" * 40})[
        "OUTREACH_REQUIRE_2FA"
    ]
    assert not load_config({"OUTREACH_ENV": "development", "OUTREACH_INSTANCE_DIR": "/tmp/i"})[
        "OUTREACH_REQUIRE_2FA"
    ]
    assert not load_config({"OUTREACH_ENV": "testing"})["OUTREACH_REQUIRE_2FA"]
    assert load_config({"OUTREACH_ENV": "testing", "OUTREACH_REQUIRE_2FA": "1"})[
        "OUTREACH_REQUIRE_2FA"
    ]


def test_required_2fa_makes_every_account_enrol_at_first_sign_in(
    database_template, tmp_path, clock
):
    required = make_app(database_template, tmp_path, OUTREACH_REQUIRE_2FA=True)
    required.extensions["outreach.clock"] = clock
    with required.app_context():
        accounts.create_staff("new@clinic.example", PASSWORD, "editor")
        db.session.commit()
        required.test_client_class = IsolatedClient
        client = required.test_client()
        assert password_step(client, "new@clinic.example").status_code == 302
        for url in ("/admin/campaigns", "/admin/subscribers", "/admin/account"):
            forced = client.get(url)
            assert forced.status_code == 302, url
            assert forced.headers["Location"].endswith("/admin/account/two-factor"), url
        page = client.get("/admin/account/two-factor")
        assert "Every staff account signs in with a code" in text(page)
        secret = db.session.scalar(select(StaffUser.totp_secret))
        confirmed = client.post(
            "/admin/account/two-factor",
            data={
                "csrf_token": csrf_token(page.get_data(as_text=True)),
                "code": code_at(secret, clock.current),
            },
        )
        assert confirmed.status_code == 200 and "recovery codes" in text(confirmed)
        assert client.get("/admin/campaigns").status_code == 200
        db.session.remove()
        db.engine.dispose()


def test_an_admin_resets_another_accounts_second_factor(app, admin, editor, staff_users, clock):
    secret, _ = enrol(staff_users["viewer"])
    viewer_user = db.session.get(StaffUser, staff_users["viewer"])
    assert "on" in text(admin.get("/admin/staff"))
    asked = admin.get(f"/admin/staff/{viewer_user.id}/two-factor/reset")
    assert asked.status_code == 200 and "Reset two-factor sign-in" in text(asked)
    assert post(admin, f"/admin/staff/{viewer_user.id}/two-factor/reset").status_code == 200
    db.session.expire_all()
    assert db.session.get(StaffUser, viewer_user.id).two_factor_enabled  # not confirmed yet

    done = post(admin, f"/admin/staff/{viewer_user.id}/two-factor/reset", {"confirm": "yes"})
    assert done.status_code == 303
    db.session.expire_all()
    user = db.session.get(StaffUser, viewer_user.id)
    assert not user.two_factor_enabled and user.totp_secret is None
    count = db.session.scalar(select(func.count(RecoveryCode.id)).filter_by(staff_user_id=user.id))
    assert count == 0
    row = db.session.scalar(select(AuditLog).filter_by(action="staff.2fa_reset"))
    assert row.actor_id == staff_users["admin"] and row.target_id == str(user.id)
    # an editor may not, and nobody resets their own
    assert post(editor, f"/admin/staff/{viewer_user.id}/two-factor/reset").status_code == 403
    own = post(admin, f"/admin/staff/{staff_users['admin']}/two-factor/reset", {"confirm": "yes"})
    assert own.status_code == 303


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "x" * 40, "ＡＢ１２３４"])
def test_malformed_codes_are_refused(client, staff_users, code):
    enrol(staff_users["editor"])
    assert password_step(client, "editor@clinic.example").status_code == 302
    assert code_step(client, code).status_code == 401


def test_codes_are_rate_limited_per_ip(database_template, tmp_path, clock):
    limited = make_app(database_template, tmp_path, RATELIMIT_ENABLED=True)
    limited.extensions["outreach.clock"] = clock
    limited.test_client_class = IsolatedClient
    with limited.app_context():
        for name in ("a", "b", "c"):
            user = accounts.create_staff(f"{name}@clinic.example", PASSWORD, "editor")
            db.session.commit()
            enrol(user.id)
        client = limited.test_client()
        answers = []
        # four wrong codes per account (under the lockout), from one address
        for name, tries in (("a", 4), ("b", 4), ("c", 3)):
            assert password_step(client, f"{name}@clinic.example").status_code == 302
            answers += [code_step(client, "000000").status_code for _ in range(tries)]
        assert answers == [401] * 10 + [429]
        db.session.remove()
        db.engine.dispose()


def test_a_wrong_first_code_counts_towards_the_lockout(editor, staff_users):
    editor.get("/admin/account/two-factor")
    codes = [post(editor, "/admin/account/two-factor", {"code": "000000"}) for _ in range(5)]
    assert [c.status_code for c in codes] == [400, 400, 400, 400, 302]
    assert editor.get("/admin/campaigns").status_code == 302  # signed out
    assert not db.session.get(StaffUser, staff_users["editor"]).two_factor_enabled
