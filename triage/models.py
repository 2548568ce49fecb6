"""Every ORM model, imported once so the metadata is whole (Alembic, tests)."""

from triage.assessment.models import Assessment
from triage.audit.models import AuditEvent
from triage.auth.models import PageSession, Token, User
from triage.db import Base
from triage.deadlines.models import Alert
from triage.imports.models import ImportJob, ImportReject
from triage.notifications.models import OutboxMessage
from triage.providers.models import Provider
from triage.referrals.models import ContactAttempt, Lockdown, LockdownUser, Offer, Referral
from triage.reports.models import ReportCase, ReportCount, ReportFold, ReportGeneration
from triage.routing.models import RoutingDecision
from triage.vcop.models import EntitlementCheck

__all__ = [
    "Alert",
    "Assessment",
    "AuditEvent",
    "Base",
    "ContactAttempt",
    "EntitlementCheck",
    "ImportJob",
    "ImportReject",
    "Lockdown",
    "LockdownUser",
    "Offer",
    "OutboxMessage",
    "PageSession",
    "Provider",
    "Referral",
    "ReportCase",
    "ReportCount",
    "ReportFold",
    "ReportGeneration",
    "RoutingDecision",
    "Token",
    "User",
]
