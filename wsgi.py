"""WSGI entry point in a source checkout: ``gunicorn wsgi:app`` (installed: outreach.wsgi)."""

from outreach.wsgi import app

__all__ = ["app"]
