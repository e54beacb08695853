"""Where the files the code needs at run time live: the page and message templates, the
migrations and the demo campaign file.

In a source checkout they are the top-level ``templates/`` and ``migrations/`` folders; an
installed wheel carries the same folders as package data (``outreach._templates`` and
``outreach._migrations``, mapped in ``setup.py``), so the app runs from either.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent


@cache
def _folder(package: str, checkout_name: str) -> Path:
    checkout = SOURCE_ROOT / checkout_name
    if checkout.is_dir() and (SOURCE_ROOT / "pyproject.toml").is_file():
        return checkout
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"outreach is installed without its {checkout_name} ({package})")
    return Path(next(iter(spec.submodule_search_locations)))


def templates_dir() -> Path:
    """The Jinja templates: pages (public/, admin/), message layouts, campaign files."""
    return _folder("outreach._templates", "templates")


def migrations_dir() -> Path:
    """The Alembic migrations (Flask-Migrate)."""
    return _folder("outreach._migrations", "migrations")


def demo_campaign_file() -> Path:
    """The June demo campaign, as a campaign file."""
    return templates_dir() / "campaigns" / "june-migraine-awareness.yaml"


def default_instance_dir() -> Path:
    """Where the SQLite database, dev mailbox and dev signing key live unless
    ``OUTREACH_INSTANCE_DIR`` says otherwise: ``instance/`` of a checkout, else of the
    working directory."""
    if (SOURCE_ROOT / "pyproject.toml").is_file():
        return SOURCE_ROOT / "instance"
    return Path.cwd() / "instance"
