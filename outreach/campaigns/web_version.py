"""The web version of a campaign email (``/view/<code>``): the step rendered by the sender's
renderer with placeholder values, no subscriber data and no personal links, so anyone
may open or forward it.

Links in it go straight to the step's own addresses: there is no message to count a click
against, so no ``/r/`` code is made (clicks on the web version are not counted).
"""

from __future__ import annotations

from outreach.extensions import db
from outreach.models import Step
from outreach.rendering import templates
from outreach.sending import compose
from outreach.tracking import view_codes


def web_version(code: str) -> str | None:
    """The HTML page of a genuine code's step in its language; None for anything else
    (a changed code, a deleted step, a text message step, a step that no longer renders)."""
    decoded = view_codes.decode(view_codes.app_key(), code)
    if decoded is None:
        return None
    step_id, language = decoded
    step = db.session.get(Step, step_id)
    if step is None or step.channel != "email" or step.campaign is None:
        return None
    try:
        rendered = compose.render_step_email(
            step, step.campaign.audience, language, web_version=True
        )
    except (templates.TemplateError, ValueError):
        return None
    return rendered.html
