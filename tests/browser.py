"""Shared pieces of the real-browser tests: Debian's Chromium, a live server, screenshots."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from outreach.extensions import db

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def require_chromium() -> None:
    """Skip (saying how to fix it) when Debian's Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(
            "browser test skipped: Chromium is absent (/usr/bin/chromium); "
            "install it with: apt-get install -y chromium"
        )


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve the app over real HTTP on 127.0.0.1 (a free port) in a thread; yields its URL.

    Sets OUTREACH_BASE_URL to that URL, so links in messages point at the live server.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base_url = f"http://127.0.0.1:{server.port}"
    app.config["OUTREACH_BASE_URL"] = base_url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def shoot(page, name: str, full_page: bool = True) -> None:  # noqa: ANN001
    """Save a screenshot (the whole page, or what the window shows) to docs/screenshots/
    when OUTREACH_SCREENSHOTS=1."""
    if os.environ.get("OUTREACH_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def sign_in(page, base_url: str, email: str = "editor@clinic.example") -> None:  # noqa: ANN001
    """Fill the staff login form and submit it (what follows depends on the account)."""
    from tests.helpers import PASSWORD

    page.goto(f"{base_url}/admin/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")


def csp_violations(page) -> list[str]:  # noqa: ANN001
    """The Content-Security-Policy complaints the page logs from now on (filled as they come)."""
    found: list[str] = []
    page.on(
        "console",
        lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return found
