"""Fixtures: an app on a fresh, migrated database (SQLite, or PostgreSQL when
OUTREACH_TEST_DATABASE_URL is set), a test client, a controllable clock, a CLI runner."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import make_url

from tests.helpers import BASE_URL, SENDGRID_PUBLIC_KEY, TWILIO_TOKEN

PG_URL = os.environ.get("OUTREACH_TEST_DATABASE_URL", "")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _migrate(database_url: str, instance_dir: Path) -> None:
    from flask_migrate import upgrade

    from outreach import create_app

    app = create_app(env=_env(database_url, instance_dir))
    with app.app_context():
        upgrade()
        from outreach.extensions import db

        db.engine.dispose()


def _env(database_url: str, instance_dir: Path) -> dict[str, str]:
    return {
        "OUTREACH_ENV": "testing",
        "DATABASE_URL": database_url,
        "OUTREACH_INSTANCE_DIR": str(instance_dir),
        "OUTREACH_BASE_URL": BASE_URL,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "SENDGRID_WEBHOOK_PUBLIC_KEY": SENDGRID_PUBLIC_KEY,
        "OUTREACH_RATELIMIT": "0",
    }


def _pg_worker_url() -> str:
    url = make_url(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        if PG_URL.startswith("postgresql://")
        else PG_URL
    )
    name = f"{url.database}_{_worker()}_{os.getpid()}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database: a SQLite file to copy, or a PostgreSQL database to truncate."""
    instance = tmp_path_factory.mktemp("template-instance")
    if PG_URL:
        url = _pg_worker_url()
        _migrate(url, instance)
        yield url
        admin = sa.create_engine(
            make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(
                sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
            )
        admin.dispose()
        return
    path = instance / "template.db"
    _migrate(f"sqlite:///{path}", instance)
    yield str(path)


class Clock:
    """A settable clock for the app (aware UTC)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, when: datetime) -> None:
        """Jump to an instant (naive values are taken as UTC)."""
        self.current = when if when.tzinfo else when.replace(tzinfo=UTC)

    def advance(self, **kwargs: float) -> datetime:
        """Move forward by a timedelta's keyword arguments."""
        self.current += timedelta(**kwargs)
        return self.current


def _truncate_all(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_app(database_template: str, tmp_path: Path, **overrides: object) -> Flask:
    """A fresh app on a clean copy of the migrated database."""
    from outreach import create_app

    if PG_URL:
        _truncate_all(database_template)
        url = database_template
    else:
        db_file = tmp_path / "test.db"
        shutil.copyfile(database_template, db_file)
        url = f"sqlite:///{db_file}"
    app = create_app(config=overrides, env=_env(url, tmp_path / "instance"))
    return app


@pytest.fixture
def clock() -> Clock:
    """The app's clock; starts at 2027-06-01 15:00 UTC (11:00 in New York)."""
    return Clock(datetime(2027, 6, 1, 15, 0, tzinfo=UTC))


@pytest.fixture
def app(database_template: str, tmp_path: Path, clock: Clock) -> Iterator[Flask]:
    """An app with its context pushed, on a fresh database, using the test clock."""
    app = make_app(database_template, tmp_path)
    app.extensions["outreach.clock"] = clock
    with app.app_context():
        yield app
        from outreach.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask):  # noqa: ANN201
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def cli(app: Flask):  # noqa: ANN201
    """A CLI runner for ``flask outreach ...``."""
    return app.test_cli_runner()


@pytest.fixture
def is_postgres() -> bool:
    """True when the suite runs against PostgreSQL."""
    return bool(PG_URL)
