"""``GET /r/<code>``: a tracked link in an email or text. A genuine code answers 302 to the
step's own link and the click is counted; anything else gets a friendly 404 page (never a
redirect to an address that is not one of the step's links). A link to this product's own
consultation request page carries the code on (``?via=``) for attribution.

Most redirects are answered before Flask by ``fast_links.TrackedLinks`` (same answer, less
CPU); this view serves the rest: requests with cookies, and every 404."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from outreach.consultations import attribution
from outreach.extensions import csrf
from outreach.public import bp
from outreach.public.fast_links import REDIRECT_HEADERS
from outreach.tracking import clicks


@bp.route("/r/<code>", methods=["GET", "HEAD"])
@csrf.exempt
def tracked_link(code: str) -> ResponseReturnValue:
    """Follow a tracked link."""
    url = clicks.follow(code, request.method, request.headers.get("User-Agent", ""))
    if url is None:
        return render_template(
            "public/bad_link.html",
            expired=False,
            message=gettext("This link is not valid."),
        ), 404
    url = attribution.with_code(url, code, current_app.config["OUTREACH_BASE_URL"])
    response = redirect(url, 302)
    response.headers.update(REDIRECT_HEADERS)
    return response
