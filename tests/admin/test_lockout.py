"""Lockout through the login page: five failures per address in 15 minutes, twenty per
IP, a clear message, an audit-log entry, and no way to tell which addresses have an
account (same answers, same hashing work)."""

from __future__ import annotations

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import AuditLog
from outreach.staff import accounts
from tests.admin.signin_support import code_step, enrol, password_step
from tests.admin.support import post, text


def _answers(client, email: str, attempts: int) -> list:  # noqa: ANN001
    answers = []
    for _ in range(attempts):
        response = password_step(client, email, "wrong guess")
        answers.append((response.status_code, text(response)))
    return answers


def test_five_failures_lock_the_address_for_15_minutes(app, client, staff_users, clock):
    answers = _answers(client, "editor@clinic.example", 5)
    assert [code for code, _ in answers] == [401, 401, 401, 401, 429]
    assert "do not match" in answers[0][1]
    assert "Too many failed sign-in attempts" in answers[4][1]
    assert "15 minutes" in answers[4][1]
    # even the right password is refused while locked
    assert password_step(client, "editor@clinic.example").status_code == 429
    row = db.session.scalar(select(AuditLog).filter_by(action="staff.lockout"))
    assert row.target_id == str(staff_users["editor"]) and "editor@clinic.example" in row.detail
    # another account from the same IP is not locked
    assert password_step(client, "viewer@clinic.example").status_code == 302

    clock.advance(minutes=16)
    assert password_step(app.test_client(), "editor@clinic.example").status_code == 302


def test_a_lockout_looks_the_same_for_an_address_without_an_account(app, client, staff_users):
    known = _answers(app.test_client(), "editor@clinic.example", 6)
    unknown = _answers(app.test_client(), "nobody@clinic.example", 6)
    assert known == unknown
    actions = db.session.scalars(select(AuditLog.action)).all()
    assert actions.count("staff.lockout") == 2


def test_unknown_addresses_cost_the_same_hashing(app, client, staff_users, monkeypatch):
    calls = []
    real = accounts.check_password_hash
    monkeypatch.setattr(
        accounts, "check_password_hash", lambda h, p: calls.append(h[:6]) or real(h, p)
    )
    password_step(client, "editor@clinic.example", "wrong guess")
    password_step(client, "nobody@clinic.example", "wrong guess")
    assert len(calls) == 2 and calls[0][:6] == calls[1][:6]  # one hash each, same method


def test_twenty_failures_from_one_ip_lock_that_ip(app, client, staff_users):
    for i in range(19):
        assert password_step(client, f"guess{i}@clinic.example", "x").status_code == 401
    assert password_step(client, "guess19@clinic.example", "x").status_code == 429
    assert password_step(client, "editor@clinic.example").status_code == 429
    assert db.session.scalar(select(AuditLog).filter_by(action="staff.lockout_ip")) is not None
    other_ip = app.test_client()
    other_ip.environ_base = {"REMOTE_ADDR": "198.51.100.9"}
    assert password_step(other_ip, "editor@clinic.example").status_code == 302


def test_wrong_codes_count_towards_the_lockout(app, client, staff_users):
    enrol(staff_users["editor"])
    assert password_step(client, "editor@clinic.example").status_code == 302
    codes = [code_step(client, "000000").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    assert password_step(client, "editor@clinic.example").status_code == 429


def test_a_completed_sign_in_clears_the_count(client, staff_users, clock):
    _answers(client, "editor@clinic.example", 4)
    assert password_step(client, "editor@clinic.example").status_code == 302
    post(client, "/admin/logout")
    assert [c for c, _ in _answers(client, "editor@clinic.example", 4)] == [401] * 4
