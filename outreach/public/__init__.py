"""Public pages: subscribe, confirm, unsubscribe (RFC 8058), preferences, tracked links
(``links``) and the consultation request page (``consultations``)."""

from flask import Blueprint

bp = Blueprint("public", __name__, static_folder="static", static_url_path="/public-static")

from outreach.public import branding, consultations, links, views, web_version  # noqa: E402, F401
