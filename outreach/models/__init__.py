"""All models, importable from one place."""

from outreach.models.base import utcnow
from outreach.models.campaigns import Campaign, SavedBlock, Step, StepVariant, StepZone
from outreach.models.consent import ConsentEvent, PendingConfirmation, Suppression
from outreach.models.consultations import ConsultationRequest
from outreach.models.contacts import Audience, Subscriber, Subscription
from outreach.models.outbox import DeliveryEvent, InboundSms, Message
from outreach.models.staff import ApiToken, AuditLog, StaffUser
from outreach.models.tracking import LinkClick, TrackedLink
from outreach.models.workers import WorkerHeartbeat

__all__ = [
    "ApiToken",
    "Audience",
    "AuditLog",
    "Campaign",
    "ConsentEvent",
    "ConsultationRequest",
    "DeliveryEvent",
    "InboundSms",
    "LinkClick",
    "Message",
    "PendingConfirmation",
    "SavedBlock",
    "StaffUser",
    "Step",
    "StepVariant",
    "StepZone",
    "Subscriber",
    "Subscription",
    "Suppression",
    "TrackedLink",
    "WorkerHeartbeat",
    "utcnow",
]
