"""Public pages: subscribe, confirm, unsubscribe (RFC 8058), preferences."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from outreach.public import views  # noqa: E402, F401
