"""Staff workspace."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from outreach.admin import auth, views  # noqa: E402, F401
