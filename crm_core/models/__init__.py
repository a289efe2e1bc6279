"""The domain model, as SQLAlchemy mapped classes on one metadata."""

from crm_core.models.arrangement import (
    Arrangement,
    ArrangementStatus,
    Instalment,
    InstalmentStatus,
    ScheduledRun,
)
from crm_core.models.audit import AuditEntry
from crm_core.models.base import Base, Money, UtcDateTime
from crm_core.models.contact import Contact, ContactKind, ContactPhone, Phone, PhoneKind
from crm_core.models.debt import (
    NO_DIALING_STATUSES,
    Debt,
    DebtStatus,
    Payment,
    PromiseStatus,
    PromiseToPay,
)
from crm_core.models.disposition import CallDisposition, DispositionDefinition
from crm_core.models.dnc import DoNotCallEntry
from crm_core.models.interaction import Direction, Interaction, InteractionKind
from crm_core.models.task import Task, TaskKind, TaskStatus
from crm_core.models.user import QueueDefinition, Role, Skill, User, UserSkill

__all__ = [
    "NO_DIALING_STATUSES",
    "Arrangement",
    "ArrangementStatus",
    "AuditEntry",
    "Base",
    "CallDisposition",
    "Contact",
    "ContactKind",
    "ContactPhone",
    "Debt",
    "DebtStatus",
    "Direction",
    "DispositionDefinition",
    "DoNotCallEntry",
    "Instalment",
    "InstalmentStatus",
    "Interaction",
    "InteractionKind",
    "Money",
    "Payment",
    "Phone",
    "PhoneKind",
    "PromiseStatus",
    "PromiseToPay",
    "QueueDefinition",
    "Role",
    "ScheduledRun",
    "Skill",
    "Task",
    "TaskKind",
    "TaskStatus",
    "User",
    "UserSkill",
    "UtcDateTime",
]
