"""JSON API v1 (bearer tokens) and its OpenAPI document."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from outreach.api import views  # noqa: E402, F401
