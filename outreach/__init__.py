"""Outreach: opt-in email + SMS campaigns for health-awareness months."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from sqlalchemy import text

from outreach import resources
from outreach.config import load_config

__version__ = "0.1.0"


def create_app(
    config: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Flask:
    """Build the app: settings from the environment (``env``), then ``config`` overrides."""
    settings = load_config(env)
    if config:
        settings.update(config)
    app = Flask(
        __name__,
        template_folder=str(resources.templates_dir()),
        static_folder=str(Path(__file__).parent / "static"),
        instance_path=settings["OUTREACH_INSTANCE_DIR"],
    )
    app.config.update(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("outreach").setLevel(logging.INFO)

    from outreach.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    from outreach.consent.ledger import install_ledger_guard

    install_ledger_guard()
    migrate.init_app(app, db, directory=str(resources.migrations_dir()))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.login_message = "Please log in to continue."
    _register_languages(app)

    from outreach import models  # noqa: F401  (register tables)
    from outreach.admin import bp as admin_bp
    from outreach.api import bp as api_bp
    from outreach.public import bp as public_bp
    from outreach.webhooks import bp as webhooks_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(webhooks_bp)
    csrf.exempt(api_bp)

    from outreach.cli.entry import register_cli

    register_cli(app)
    _register_health(app)
    _register_errors(app)
    _register_security_headers(app)

    from outreach.public.fast_links import TrackedLinks

    app.wsgi_app = TrackedLinks(app, app.wsgi_app, security_headers(app))  # type: ignore[method-assign]
    if app.config["OUTREACH_PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["OUTREACH_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    if app.config["OUTREACH_SCHEDULER"]:
        from outreach.scheduler import start_scheduler

        start_scheduler(app)
    return app


def _register_languages(app: Flask) -> None:
    """Flask-Babel for the public pages (English and Spanish catalogues)."""
    from flask_babel import refresh

    from outreach.extensions import babel
    from outreach.i18n import DEFAULT_LANGUAGE, TRANSLATIONS_DIR
    from outreach.public.language import select_locale

    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel caches the locale on the app context, which a test client (or a CLI
    # command making requests) may share between requests: choose afresh for each one.
    app.before_request(refresh)
    app.context_processor(lambda: {"page_language": select_locale})


def _register_health(app: Flask) -> None:
    """``/healthz`` (``?deep=1``: queue lag, stale workers), ``/metrics`` (bearer token),
    and the webhook counters."""
    import hmac

    from flask import Response, abort, request

    from outreach.extensions import db
    from outreach.operations import health, metrics

    @app.get("/healthz")
    def healthz():  # noqa: ANN202
        try:
            db.session.execute(text("SELECT 1"))
            deep = health.deep_report() if request.args.get("deep") in ("1", "true") else {}
        except Exception:  # noqa: BLE001 - any database failure means unhealthy
            db.session.rollback()
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database="ok", **deep)

    @app.get("/favicon.ico")
    def favicon():  # noqa: ANN202
        """Browsers ask for /favicon.ico whatever the page says: the SVG icon."""
        from flask import redirect, url_for

        return redirect(url_for("static", filename="favicon.svg"), 301)

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        token = app.config.get("OUTREACH_METRICS_TOKEN") or ""
        if not token:
            abort(404)  # off unless a token is configured
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return Response(
                "bearer token required\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}
            )
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            return Response("wrong token\n", 403)
        body, content_type = metrics.exposition(app.config.get("PROMETHEUS_MULTIPROC_DIR", ""))
        return Response(body, content_type=content_type)

    @app.after_request
    def count_webhooks(response: Response) -> Response:
        if request.blueprint == "webhooks" and request.endpoint:
            metrics.webhook_answered(request.endpoint.rpartition(".")[2], response.status_code)
        return response


#: No inline scripts (every script is a file in static/); styles may be inline (the
#: emails previewed in sandboxed frames carry their own); no page may be framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def security_headers(app: Flask) -> list[tuple[str, str]]:
    """The security headers of every response (HSTS only in production, behind HTTPS); a
    response's own value of one wins."""
    headers = [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if app.config["OUTREACH_ENV"] == "production":
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


def _register_security_headers(app: Flask) -> None:
    """``security_headers`` on every response Flask makes."""
    from flask import Response

    defaults = security_headers(app)

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in defaults:
            response.headers.setdefault(name, value)
        return response


def _register_errors(app: Flask) -> None:
    from flask import render_template, request
    from flask_babel import gettext
    from werkzeug.exceptions import HTTPException
    from werkzeug.http import HTTP_STATUS_CODES

    from outreach.api.common import problem

    def is_api() -> bool:
        return request.path.startswith("/api/")

    def page(code: int, title: str, message: str):  # noqa: ANN202
        if is_api():
            return problem(code, HTTP_STATUS_CODES.get(code, title), message)
        if request.path.startswith("/webhooks/"):
            return jsonify(status=code, title=title, detail=message), code
        return render_template("error.html", code=code, title=title, message=message), code

    @app.errorhandler(400)
    def bad_request(exc):  # noqa: ANN001, ANN202
        return page(
            400, gettext("Something was wrong with that request"), getattr(exc, "description", "")
        )

    @app.errorhandler(404)
    def not_found(exc):  # noqa: ANN001, ANN202
        return page(404, gettext("Page not found"), gettext("There is nothing at this address."))

    @app.errorhandler(405)
    def method_not_allowed(exc: HTTPException):  # noqa: ANN202
        if not is_api():
            return exc
        response = problem(405, "Method Not Allowed", "This address does not accept that method.")
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
        return response

    @app.errorhandler(413)
    def too_large(exc):  # noqa: ANN001, ANN202
        return page(413, gettext("Too large"), gettext("That request was too large."))

    @app.errorhandler(429)
    def too_many(exc):  # noqa: ANN001, ANN202
        if is_api():
            return problem(429, "Too Many Requests", "Rate limit reached for this token.")
        return page(
            429,
            gettext("Slow down a little"),
            gettext(
                "You've tried that a few times in a short while. "
                "Please wait a minute and try again."
            ),
        )

    @app.errorhandler(500)
    def server_error(exc: HTTPException):  # noqa: ANN202
        if not is_api():
            return exc
        from outreach.extensions import db

        db.session.rollback()
        return problem(500, "Internal Server Error", "Something went wrong on our side.")
