"""WSGI entry point of an installed Outreach: ``gunicorn outreach.wsgi:app``."""

from config import ConfigError
from outreach import create_app

try:
    app = create_app()
except ConfigError as exc:
    raise SystemExit(f"outreach: {exc}") from None
