"""JSON API v1 (bearer tokens, per-token rate limits) and its OpenAPI document."""

from flask import Blueprint

from outreach.api.common import rate_limit_key, rate_limit_value
from outreach.extensions import limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# One budget per token across every API route (the limiter keys on the token's hash).
limiter.shared_limit(rate_limit_value, scope="api-v1", key_func=rate_limit_key)(bp)

from outreach.api import views  # noqa: E402, F401
