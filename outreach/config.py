"""Every setting Outreach reads from the environment, in one place.

``load_config(env)`` returns a plain dict for ``app.config``; nothing else in the
project reads ``os.environ``. (The top-level ``config.py`` of a checkout re-exports this
module, so an installed wheel puts no bare ``config`` module into site-packages.)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from outreach.channels.smtp_message import parse_smtp_url
from outreach.resources import default_instance_dir

ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message is one line naming the variable."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _dev_secret_key(instance_dir: Path) -> str:
    """A signing key generated once into instance/ so dev sessions survive restarts."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    key_file = instance_dir / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def load_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read the contract's environment variables into a Flask config dict."""
    env = os.environ if env is None else env
    outreach_env = env.get("OUTREACH_ENV", "development").strip() or "development"
    if outreach_env not in ENVIRONMENTS:
        raise ConfigError(f"OUTREACH_ENV must be one of {', '.join(ENVIRONMENTS)}")
    production = outreach_env == "production"
    testing = outreach_env == "testing"
    instance_dir = Path(env.get("OUTREACH_INSTANCE_DIR") or default_instance_dir())

    secret_key = env.get("SECRET_KEY", "")
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY must be set when OUTREACH_ENV=production")
        secret_key = "testing-secret-key" if testing else _dev_secret_key(instance_dir)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'outreach.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

    port = int(env.get("PORT", "5000"))
    base_url = (env.get("OUTREACH_BASE_URL") or f"http://127.0.0.1:{port}").rstrip("/")
    email_channel = env.get("OUTREACH_EMAIL_CHANNEL", "console") or "console"
    sms_channel = env.get("OUTREACH_SMS_CHANNEL", "console") or "console"
    if email_channel not in {"console", "sendgrid", "smtp"}:
        raise ConfigError("OUTREACH_EMAIL_CHANNEL must be 'console', 'sendgrid' or 'smtp'")
    if sms_channel not in {"console", "twilio"}:
        raise ConfigError("OUTREACH_SMS_CHANNEL must be 'console' or 'twilio'")
    if email_channel == "sendgrid" and not env.get("SENDGRID_API_KEY"):
        raise ConfigError("SENDGRID_API_KEY must be set when OUTREACH_EMAIL_CHANNEL=sendgrid")
    smtp_url = env.get("OUTREACH_SMTP_URL", "").strip()
    if email_channel == "smtp":
        if not smtp_url:
            raise ConfigError("OUTREACH_SMTP_URL must be set when OUTREACH_EMAIL_CHANNEL=smtp")
        try:
            parse_smtp_url(smtp_url)
        except ValueError as exc:
            raise ConfigError(f"OUTREACH_SMTP_URL is not usable: {exc}") from None
    if sms_channel == "twilio":
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            if not env.get(name):
                raise ConfigError(f"{name} must be set when OUTREACH_SMS_CHANNEL=twilio")
        if not (env.get("TWILIO_MESSAGING_SERVICE_SID") or env.get("TWILIO_FROM_NUMBER")):
            raise ConfigError(
                "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER must be set "
                "when OUTREACH_SMS_CHANNEL=twilio"
            )

    heartbeat_seconds = float(env.get("OUTREACH_HEARTBEAT_SECONDS", "5"))
    stale_seconds = float(env.get("OUTREACH_WORKER_STALE_SECONDS", "60"))
    if stale_seconds <= heartbeat_seconds:
        raise ConfigError(
            "OUTREACH_WORKER_STALE_SECONDS must be more than OUTREACH_HEARTBEAT_SECONDS"
        )

    session_hours = float(env.get("OUTREACH_SESSION_LIFETIME_HOURS", "12"))

    # hide_parameters: a logged SQL error never carries an email or phone number.
    # Sessions run in UTC: naive UTC columns never meet a server's local time zone.
    # connect_timeout: an unreachable database fails a request in seconds (a webhook then
    # answers 503 and the provider retries) instead of hanging for minutes.
    engine_options: dict[str, Any] = {
        "pool_pre_ping": True,
        "hide_parameters": True,
        "connect_args": {"options": "-c timezone=UTC", "connect_timeout": 5},
    }
    if database_url.startswith("sqlite"):
        engine_options = {"connect_args": {"timeout": 30}, "hide_parameters": True}

    return {
        "OUTREACH_ENV": outreach_env,
        "TESTING": testing,
        "DEBUG": False,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "OUTREACH_INSTANCE_DIR": str(instance_dir),
        "OUTREACH_BASE_URL": base_url,
        "OUTREACH_EMAIL_CHANNEL": email_channel,
        "OUTREACH_SMS_CHANNEL": sms_channel,
        # A Business Associate Agreement with the provider behind each channel: without
        # one, preflight blocks health details wherever that provider keeps them.
        "OUTREACH_EMAIL_BAA": _flag(env.get("OUTREACH_EMAIL_BAA"), default=False),
        "OUTREACH_SMS_BAA": _flag(env.get("OUTREACH_SMS_BAA"), default=False),
        "OUTREACH_DEV_MAILBOX": env.get("OUTREACH_DEV_MAILBOX") or str(instance_dir / "mailbox"),
        "OUTREACH_SCHEDULER": _flag(env.get("OUTREACH_SCHEDULER"), default=False),
        "OUTREACH_BATCH_SIZE": int(env.get("OUTREACH_BATCH_SIZE", "1000")),
        "OUTREACH_LEASE_SECONDS": int(env.get("OUTREACH_LEASE_SECONDS", "300")),
        # Reconciliation of ``unknown`` rows (sending/reconcile.py): how often a worker
        # runs it, how long SendGrid events may take, how long Twilio's list may lag.
        "OUTREACH_RECONCILE_EVERY_SECONDS": int(env.get("OUTREACH_RECONCILE_EVERY_SECONDS", "60")),
        "OUTREACH_WEBHOOK_BREAKER_SECONDS": float(env.get("OUTREACH_WEBHOOK_BREAKER_SECONDS", "2")),
        "OUTREACH_RECONCILE_HORIZON_SECONDS": int(
            env.get("OUTREACH_RECONCILE_HORIZON_SECONDS", "1800")
        ),
        "OUTREACH_RECONCILE_SMS_DELAY_SECONDS": int(
            env.get("OUTREACH_RECONCILE_SMS_DELAY_SECONDS", "600")
        ),
        # The operators' view (operations/): /metrics is off (404) without a token; a
        # worker beats at most every OUTREACH_HEARTBEAT_SECONDS and is stale after
        # OUTREACH_WORKER_STALE_SECONDS without one. prometheus_client reads
        # PROMETHEUS_MULTIPROC_DIR itself; /metrics needs it to merge the processes' files.
        "OUTREACH_METRICS_TOKEN": env.get("OUTREACH_METRICS_TOKEN", "").strip(),
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR", ""),
        "OUTREACH_HEARTBEAT_SECONDS": heartbeat_seconds,
        "OUTREACH_WORKER_STALE_SECONDS": stale_seconds,
        "OUTREACH_SMS_MPS": float(env.get("OUTREACH_SMS_MPS", "0")),
        "OUTREACH_SMS_CONCURRENCY": int(env.get("OUTREACH_SMS_CONCURRENCY", "16")),
        "OUTREACH_EMAIL_CONCURRENCY": int(env.get("OUTREACH_EMAIL_CONCURRENCY", "2")),
        # 0: compose each email recipient the per-recipient way (the benchmark's old path).
        "OUTREACH_FAST_COMPOSE": env.get("OUTREACH_FAST_COMPOSE", "1").strip() != "0",
        "OUTREACH_SMS_WORKERS": int(env.get("OUTREACH_SMS_WORKERS", "1")),
        "OUTREACH_PROVIDER_TIMEOUT": float(env.get("OUTREACH_PROVIDER_TIMEOUT", "30")),
        "OUTREACH_SMS_DAILY_CAP": int(env.get("OUTREACH_SMS_DAILY_CAP", "1")),
        "OUTREACH_EMAIL_DAILY_CAP": int(env.get("OUTREACH_EMAIL_DAILY_CAP", "0")),
        "OUTREACH_MAIL_FROM": env.get("OUTREACH_MAIL_FROM", "outreach@example.org"),
        "OUTREACH_UNSUBSCRIBE_MAILTO": env.get(
            "OUTREACH_UNSUBSCRIBE_MAILTO", "unsubscribe@example.org"
        ),
        "OUTREACH_CONFIRM_MAX_AGE": int(env.get("OUTREACH_CONFIRM_MAX_AGE", str(7 * 86400))),
        # Staff sign-in (staff/ and admin/auth.py): TOTP required (default in production),
        # idle and absolute session limits, re-authentication window, lockout.
        "OUTREACH_REQUIRE_2FA": _flag(env.get("OUTREACH_REQUIRE_2FA"), default=production),
        "OUTREACH_IDLE_TIMEOUT_MINUTES": float(env.get("OUTREACH_IDLE_TIMEOUT_MINUTES", "30")),
        "OUTREACH_SESSION_LIFETIME_HOURS": session_hours,
        "OUTREACH_REAUTH_MINUTES": float(env.get("OUTREACH_REAUTH_MINUTES", "10")),
        "OUTREACH_LOCKOUT_ATTEMPTS": int(env.get("OUTREACH_LOCKOUT_ATTEMPTS", "5")),
        "OUTREACH_LOCKOUT_IP_ATTEMPTS": int(env.get("OUTREACH_LOCKOUT_IP_ATTEMPTS", "20")),
        "OUTREACH_LOCKOUT_MINUTES": float(env.get("OUTREACH_LOCKOUT_MINUTES", "15")),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=session_hours),
        "RATELIMIT_ENABLED": _flag(env.get("OUTREACH_RATELIMIT"), default=True),
        "RATELIMIT_STORAGE_URI": env.get("OUTREACH_RATELIMIT_STORAGE", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "WTF_CSRF_ENABLED": _flag(env.get("OUTREACH_CSRF"), default=True),
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": int(env.get("OUTREACH_MAX_CONTENT_LENGTH", str(64 * 1024 * 1024))),
        "SENDGRID_API_KEY": env.get("SENDGRID_API_KEY", ""),
        "SENDGRID_API_HOST": (env.get("SENDGRID_API_HOST") or "https://api.sendgrid.com").rstrip(
            "/"
        ),
        "SENDGRID_WEBHOOK_PUBLIC_KEY": env.get("SENDGRID_WEBHOOK_PUBLIC_KEY", ""),
        "OUTREACH_SMTP_URL": smtp_url,
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        "TWILIO_FROM_NUMBER": env.get("TWILIO_FROM_NUMBER", ""),
        "TWILIO_API_BASE": (env.get("TWILIO_API_BASE") or "https://api.twilio.com").rstrip("/"),
        "PORT": port,
        "OUTREACH_PROXY_HOPS": int(env.get("OUTREACH_PROXY_HOPS", "0")),
        "OUTREACH_API_RATE_LIMIT": env.get("OUTREACH_API_RATE_LIMIT", "120 per minute"),
    }
