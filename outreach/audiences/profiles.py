"""Staff edits to a subscriber's profile: name, time zone, language. Consent is not part of
a profile: it changes only through the consent service, with ledger rows."""

from __future__ import annotations

from outreach.audiences.contacts import clean_name
from outreach.campaigns.windows import is_valid_timezone
from outreach.i18n import LANGUAGES
from outreach.models import Subscriber
from outreach.staff import audit as staff_audit


class ProfileError(ValueError):
    """A profile edit that cannot be saved; ``errors`` maps field -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def update_profile(
    subscriber: Subscriber, first_name: str, timezone: str, language: str, actor_id: int | None
) -> list[str]:
    """Change what staff may change; returns the names of the fields changed (audited by
    name only: the values are personal)."""
    if subscriber.erased_at is not None:
        raise ProfileError({"first_name": "this subscriber was erased; nothing can change"})
    errors: dict[str, str] = {}
    name = clean_name(first_name)
    if len(first_name.strip()) > 100:
        errors["first_name"] = "at most 100 characters"
    timezone = timezone.strip()
    if not is_valid_timezone(timezone) or "/" not in timezone:
        errors["timezone"] = "choose a time zone such as America/Chicago"
    if language not in LANGUAGES:
        errors["language"] = "choose English or Spanish"
    if errors:
        raise ProfileError(errors)
    changed = []
    for field, value in (("first_name", name), ("timezone", timezone), ("language", language)):
        if getattr(subscriber, field) != value:
            setattr(subscriber, field, value)
            changed.append(field)
    if changed:
        staff_audit.audit(
            actor_id, "subscriber.update", "subscriber", subscriber.id, ", ".join(changed)
        )
    return changed
