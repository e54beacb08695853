"""Flask-WTF forms for the public pages.

Every form carries a CSRF token (Flask-WTF); the views validate it themselves so that a
missing or stale token re-renders the page with a clear message instead of a bare error.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, StringField, TelField, TextAreaField
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


class RequestForm(FlaskForm):
    """The consultation request form; its rules are checked by ``consultations.requests``.

    The lengths here only stop oversized posts; what the person typed is shown again with
    the service's message when something is wrong."""

    name = StringField("Name", validators=[Optional(), Length(max=400)])
    email = EmailField("Email", validators=[Optional(), Length(max=320)])
    phone = TelField("Phone", validators=[Optional(), Length(max=32)])
    contact_time = StringField("Preferred contact time", default="any")
    note = TextAreaField("Note", validators=[Optional(), Length(max=3000)])
    timezone = HiddenField("Time zone")
    via = HiddenField("Tracked link")
    also_emails = BooleanField(default=False)
    website = StringField("Leave this empty")
