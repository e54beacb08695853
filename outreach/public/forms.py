"""Flask-WTF forms for the public pages.

Every form carries a CSRF token (Flask-WTF); the views validate it themselves so that a
missing or stale token re-renders the page with a clear message instead of a bare error.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, StringField, TelField
from wtforms.validators import Length, Optional

#: The honeypot's field name: hidden from people, filled in by naive bots.
HONEYPOT_FIELD = "website"


class SubscribeForm(FlaskForm):
    """The opt-in form. Contact checks happen in the view with email-validator/phonenumbers."""

    email = EmailField("Email", validators=[Optional(), Length(max=320)])
    phone = TelField("Mobile phone", validators=[Optional(), Length(max=32)])
    first_name = StringField("First name", validators=[Optional(), Length(max=100)])
    timezone = HiddenField("Time zone")
    consent_email = BooleanField(default=False)
    consent_sms = BooleanField(default=False)
    website = StringField("Leave this empty")


class ConfirmForm(FlaskForm):
    """One button: only a POST confirms, so link scanners cannot."""


class UnsubscribeForm(FlaskForm):
    """One button, and an option to leave everything."""

    everything = BooleanField("Unsubscribe me from everything (emails and texts)", default=False)


class PreferencesForm(FlaskForm):
    """Time zone; channel and audience boxes are read from the request by name (``keep``)."""

    timezone = StringField("Time zone", validators=[Optional(), Length(max=64)])
