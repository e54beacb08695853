"""outreach/config.py reads every contract variable in one place, refuses unsafe starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from outreach.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_production_without_secret_key_refuses(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"OUTREACH_ENV": "production", "OUTREACH_INSTANCE_DIR": str(tmp_path)})


def test_production_start_prints_one_line_naming_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(OUTREACH_ENV="production", OUTREACH_INSTANCE_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY" in lines[0]


def test_contract_variables_are_read(tmp_path):
    settings = load_config(
        {
            "DATABASE_URL": "postgres://u@db/outreach",
            "SECRET_KEY": "s3cret",
            "OUTREACH_ENV": "production",
            "OUTREACH_BASE_URL": "https://news.example.org/",
            "OUTREACH_EMAIL_CHANNEL": "sendgrid",
            "OUTREACH_SMS_CHANNEL": "twilio",
            "SENDGRID_API_KEY": "SG.key",
            "SENDGRID_API_HOST": "http://127.0.0.1:4010",
            "SENDGRID_WEBHOOK_PUBLIC_KEY": "pubkey",
            "TWILIO_ACCOUNT_SID": "AC123",
            "TWILIO_AUTH_TOKEN": "tok",
            "TWILIO_MESSAGING_SERVICE_SID": "MG123",
            "TWILIO_API_BASE": "http://127.0.0.1:4011",
            "PORT": "8080",
            "OUTREACH_INSTANCE_DIR": str(tmp_path),
        }
    )
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/outreach"
    assert settings["OUTREACH_BASE_URL"] == "https://news.example.org"
    assert settings["SENDGRID_API_HOST"] == "http://127.0.0.1:4010"
    assert settings["TWILIO_API_BASE"] == "http://127.0.0.1:4011"
    assert settings["TWILIO_MESSAGING_SERVICE_SID"] == "MG123"
    assert settings["PORT"] == 8080
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_development_defaults(tmp_path):
    settings = load_config({"OUTREACH_INSTANCE_DIR": str(tmp_path)})
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'outreach.db'}"
    assert settings["OUTREACH_EMAIL_CHANNEL"] == "console"
    assert settings["OUTREACH_SMS_CHANNEL"] == "console"
    assert settings["OUTREACH_BASE_URL"] == "http://127.0.0.1:5000"
    assert settings["SESSION_COOKIE_SECURE"] is False
    # the dev secret is generated once and reused
    assert (
        load_config({"OUTREACH_INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"]
        == settings["SECRET_KEY"]
    )


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"OUTREACH_EMAIL_CHANNEL": "sendgrid"}, "SENDGRID_API_KEY"),
        ({"OUTREACH_SMS_CHANNEL": "twilio"}, "TWILIO_ACCOUNT_SID"),
        (
            {
                "OUTREACH_SMS_CHANNEL": "twilio",
                "TWILIO_ACCOUNT_SID": "AC1",
                "TWILIO_AUTH_TOKEN": "t",
            },
            "TWILIO_MESSAGING_SERVICE_SID",
        ),
        ({"OUTREACH_EMAIL_CHANNEL": "mailgun"}, "OUTREACH_EMAIL_CHANNEL"),
        ({"OUTREACH_EMAIL_CHANNEL": "smtp"}, "OUTREACH_SMTP_URL"),
        (
            {"OUTREACH_EMAIL_CHANNEL": "smtp", "OUTREACH_SMTP_URL": "relay.example:587"},
            "OUTREACH_SMTP_URL is not usable: it must start with smtp:// or smtps://",
        ),
        (
            {"OUTREACH_EMAIL_CHANNEL": "smtp", "OUTREACH_SMTP_URL": "smtp://u:p@relay.example"},
            "OUTREACH_SMTP_URL is not usable: it would send the password unencrypted",
        ),
        ({"OUTREACH_ENV": "staging"}, "OUTREACH_ENV"),
    ],
)
def test_missing_provider_settings_name_the_variable(tmp_path, env, name):
    with pytest.raises(ConfigError, match=name):
        load_config({**env, "OUTREACH_INSTANCE_DIR": str(tmp_path)})


def test_smtp_channel_reads_its_url_and_builds(tmp_path):
    from outreach.channels.registry import build_email_channel

    url = "smtps://clinic%40example.org:pw@relay.example.org:465"
    settings = load_config(
        {
            "OUTREACH_INSTANCE_DIR": str(tmp_path),
            "OUTREACH_EMAIL_CHANNEL": "smtp",
            "OUTREACH_SMTP_URL": f" {url} ",
        }
    )
    assert settings["OUTREACH_SMTP_URL"] == url
    channel = build_email_channel(settings)
    assert channel.name == "smtp"
    assert channel.settings.username == "clinic@example.org"
    assert "pw" not in repr(channel) and "pw" not in repr(channel.settings)


def test_operations_settings_default_to_off_and_are_checked(tmp_path):
    base = {"OUTREACH_INSTANCE_DIR": str(tmp_path)}
    settings = load_config(base)
    assert settings["OUTREACH_METRICS_TOKEN"] == ""  # /metrics answers 404
    assert settings["OUTREACH_HEARTBEAT_SECONDS"] == 5
    assert settings["OUTREACH_WORKER_STALE_SECONDS"] == 60
    settings = load_config(
        {
            **base,
            "OUTREACH_METRICS_TOKEN": " scrape-me ",
            "OUTREACH_HEARTBEAT_SECONDS": "2",
            "OUTREACH_WORKER_STALE_SECONDS": "30",
        }
    )
    assert settings["OUTREACH_METRICS_TOKEN"] == "scrape-me"
    assert settings["OUTREACH_WORKER_STALE_SECONDS"] == 30
    with pytest.raises(ConfigError, match="OUTREACH_WORKER_STALE_SECONDS"):
        load_config({**base, "OUTREACH_HEARTBEAT_SECONDS": "60"})
