"""Provider webhooks: verify the signature, parse, then call the feedback service."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

from outreach.webhooks import outage, sendgrid, twilio  # noqa: E402, F401
