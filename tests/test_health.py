"""GET /healthz reports the database."""

from __future__ import annotations

from outreach import create_app
from tests.conftest import _env


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_healthz_503_when_database_unreachable(tmp_path):
    env = _env("postgresql://nobody@127.0.0.1:9/none?connect_timeout=1", tmp_path)
    app = create_app(env=env)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"
