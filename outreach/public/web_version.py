"""``GET /view/<code>``: the web version of a campaign email ("View in your browser").
The same page for everyone who has the link (no personal data), never indexed; a friendly
404 for any other code."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from outreach.campaigns import web_version as web
from outreach.public import bp


@bp.get("/view/<code>")
def web_version(code: str) -> ResponseReturnValue:
    """Show a step's web version."""
    page = web.web_version(code)
    if page is None:
        response = (
            render_template(
                "public/bad_link.html",
                expired=False,
                message=gettext("This email is not available on the web."),
            ),
            404,
            {"X-Robots-Tag": "noindex"},
        )
        return response
    return (
        page,
        200,
        {
            "Content-Type": "text/html; charset=utf-8",
            "X-Robots-Tag": "noindex, nofollow",
            "Cache-Control": "public, max-age=300",
            "Referrer-Policy": "no-referrer",
        },
    )
