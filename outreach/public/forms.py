"""Flask-WTF forms for the public pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, StringField, TelField
from wtforms.validators import Length, Optional


class SubscribeForm(FlaskForm):
    """The opt-in form. Contact checks happen in the view with email-validator/phonenumbers."""

    email = EmailField("Email", validators=[Optional(), Length(max=320)])
    phone = TelField("Mobile phone", validators=[Optional(), Length(max=32)])
    first_name = StringField("First name", validators=[Optional(), Length(max=100)])
    timezone = HiddenField("Time zone", validators=[Optional(), Length(max=64)])
    consent_email = BooleanField(default=False)
    consent_sms = BooleanField(default=False)
    website = StringField("Leave this empty", validators=[Optional(), Length(max=200)])


class ConfirmForm(FlaskForm):
    """One button: only a POST confirms, so link scanners cannot."""


class UnsubscribeForm(FlaskForm):
    """One button, and an option to leave everything."""

    everything = BooleanField("Unsubscribe me from everything (email and texts)", default=False)


class PreferencesForm(FlaskForm):
    """Time zone; channel and audience boxes are read from the request by name."""

    timezone = StringField("Time zone", validators=[Optional(), Length(max=64)])
