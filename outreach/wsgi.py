"""WSGI entry point of an installed Outreach: ``gunicorn outreach.wsgi:app``."""

from outreach import create_app
from outreach.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    raise SystemExit(f"outreach: {exc}") from None
