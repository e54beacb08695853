"""API tokens: created once, stored hashed, looked up by their hash."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import ApiToken
from outreach.staff import audit


def hash_token(token: str) -> str:
    """SHA-256 of an API token (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(name: str, staff_user_id: int | None = None) -> tuple[ApiToken, str]:
    """Create an API token; the plain token is returned once and never stored."""
    plain = "ort_" + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name[:100],
        token_hash=hash_token(plain),
        prefix=plain[:12],
        staff_user_id=staff_user_id,
    )
    db.session.add(row)
    db.session.flush()
    return row, plain


def token_owner(plain: str) -> ApiToken | None:
    """The live token row for a presented bearer token, or None."""
    row = db.session.scalar(select(ApiToken).filter_by(token_hash=hash_token(plain)))
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = clock_now()
    return row


def revoke_token(token: ApiToken, actor_id: int | None) -> bool:
    """Revoke a token at once (it stops working on its next request), audit-logged; flushes.
    False when it was already revoked."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = clock_now()
    audit.audit(
        actor_id, "api_token.revoke", "api_token", token.id, f"{token.name} ({token.prefix}...)"
    )
    db.session.flush()
    return True
