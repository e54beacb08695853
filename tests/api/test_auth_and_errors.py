"""Bearer tokens (hashed, created by the CLI and the admin, revocable), problem+json errors
on every /api/ path, and per-token rate limits."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from outreach.extensions import db
from outreach.models import ApiToken, AuditLog
from outreach.staff import api_tokens as staff_tokens
from tests.conftest import make_app
from tests.factories import make_audience
from tests.results.support import isolated_client, login, make_staff, post_form

PROBLEM = "application/problem+json"


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


def test_requests_without_a_valid_token_get_401_problem(client, token):
    make_audience()
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": f"Bearer {token}x"},
    ):
        response = client.get("/api/v1/audiences", headers=headers)
        _is_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        client.get("/api/v1/audiences", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )


def test_cli_token_is_stored_hashed_and_works(cli, client):
    result = cli.invoke(args=["outreach", "create-api-token", "--name", "clinic CRM"])
    assert result.exit_code == 0, result.output
    plain = result.output.strip().splitlines()[-1]
    assert plain.startswith("ort_")
    row = db.session.scalar(select(ApiToken))
    assert row.name == "clinic CRM" and plain not in (row.token_hash, row.prefix)
    assert len(row.token_hash) == 64 and plain.startswith(row.prefix)
    response = client.get("/api/v1/campaigns", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None


def test_admin_creates_and_revokes_tokens(app, monkeypatch):
    ids = make_staff(monkeypatch)
    admin = isolated_client(app)
    login(admin, "admin@clinic.example")
    page = post_form(admin, "/admin/api-tokens", {"name": "clinic CRM"})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    plain = re.search(r'value="(ort_[^"]+)"', page.get_data(as_text=True)).group(1)
    api = isolated_client(app)
    auth = {"Authorization": f"Bearer {plain}"}
    assert api.get("/api/v1/audiences", headers=auth).status_code == 200
    assert plain not in admin.get("/admin/api-tokens").get_data(as_text=True)  # shown once

    db.session.rollback()
    row = db.session.scalar(select(ApiToken).filter_by(name="clinic CRM"))
    assert row.staff_user_id == ids["admin"]
    revoked = post_form(
        admin,
        f"/admin/api-tokens/{row.id}/revoke",
        {"confirm": "yes"},
        page_url="/admin/api-tokens",
    )
    assert revoked.status_code == 303
    _is_problem(api.get("/api/v1/audiences", headers=auth), 401)
    db.session.rollback()
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions[-2:] == ["api_token.create", "api_token.revoke"]


def test_only_admins_manage_tokens(app, monkeypatch):
    make_staff(monkeypatch)
    editor = isolated_client(app)
    login(editor, "editor@clinic.example")
    assert editor.get("/admin/api-tokens").status_code == 403
    assert isolated_client(app).get("/admin/api-tokens").status_code == 302  # to the login


def test_errors_on_api_paths_are_problem_documents(api):
    _is_problem(api.get("/api/v1/no-such-thing"), 404)
    _is_problem(api.get("/api/v1/campaigns/99"), 404)
    _is_problem(api.get("/api/v1/campaigns/99999999999999"), 404)
    _is_problem(api.get("/api/v1/subscribers/" + "0" * 32), 404)
    _is_problem(api.get("/api/v1/audiences/nope"), 404)
    not_allowed = api.client.delete("/api/v1/campaigns", headers=api._headers(None))
    _is_problem(not_allowed, 405)
    assert "GET" in not_allowed.headers["Allow"]
    bad = _is_problem(api.get("/api/v1/messages?limit=0"), 400)
    assert "limit" in bad["errors"]
    _is_problem(api.get("/api/v1/messages?state=lost"), 400)
    _is_problem(api.get("/api/v1/messages?cursor=abc"), 400)
    _is_problem(api.get("/api/v1/messages?subscriber=xyz"), 400)
    _is_problem(api.get("/api/v1/campaigns?sttus=paused"), 400)  # a typo is not ignored
    _is_problem(api.get("/api/v1/audiences?limit=1&limit=2"), 400)
    _is_problem(
        api.post(
            "/api/v1/subscribers", data="{not json", headers={"Content-Type": "application/json"}
        ),
        400,
    )
    _is_problem(
        api.post(
            "/api/v1/subscribers",
            data="a=b",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
    )
    invalid = _is_problem(
        api.post("/api/v1/subscribers", json={"audience": 5, "colour": "red"}), 422
    )
    assert set(invalid["errors"]) >= {"audience", "body"}
    # Outside /api/ pages stay HTML.
    assert api.client.get("/no-such-page").mimetype == "text/html"


def test_rate_limit_is_per_token_and_answers_429_problem(database_template, tmp_path):
    app = make_app(
        database_template,
        tmp_path,
        RATELIMIT_ENABLED=True,
        OUTREACH_API_RATE_LIMIT="3 per minute",
    )
    with app.app_context():
        _, first = staff_tokens.create_api_token("one")
        _, second = staff_tokens.create_api_token("two")
        db.session.commit()
        client = isolated_client(app)
        one = {"Authorization": f"Bearer {first}"}
        statuses = [client.get("/api/v1/audiences", headers=one).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = client.get("/api/v1/campaigns", headers=one)  # shared across routes
        body = _is_problem(limited, 429)
        assert body["title"] == "Too Many Requests"
        assert int(limited.headers["Retry-After"]) > 0
        assert limited.headers["X-RateLimit-Limit"] == "3"
        other = client.get("/api/v1/audiences", headers={"Authorization": f"Bearer {second}"})
        assert other.status_code == 200  # another token has its own budget
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("path", ["/api/v1/openapi.json"])
def test_the_openapi_document_needs_no_token(client, path):
    assert client.get(path).status_code == 200
