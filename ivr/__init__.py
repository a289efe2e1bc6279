"""The IVR: a FastAGI server running declarative flows (TOML) for inbound callers.

Public API for the composition root and other packages:
- IvrService: owns the flow library, its watcher and the FastAGI server (start/reload/close).
- SafeDefault: the queue every call reaches when its flow cannot run.
- Ports it needs: CallerDirectory, QueueHandoff (+ QueuedCall, HandoffRefused), CallbackDesk,
  IvrJournal (+ IvrRecord); crm_core fills the first, third and fourth (ivr.crm), routing the
  hand-off (ivr.handoff).
"""

from ivr.crm import CrmCallbackDesk, CrmDirectory, CrmJournal
from ivr.library import FlowLibrary, ReloadReport
from ivr.loader import CenterCalendar, load_flow
from ivr.ports import (
    CallbackDesk,
    CallerDirectory,
    HandoffRefused,
    IvrJournal,
    IvrRecord,
    QueuedCall,
    QueueHandoff,
)
from ivr.schema import FlowLoadError
from ivr.service import IvrService
from ivr.session import SafeDefault

__all__ = [
    "CallbackDesk",
    "CallerDirectory",
    "CenterCalendar",
    "CrmCallbackDesk",
    "CrmDirectory",
    "CrmJournal",
    "FlowLibrary",
    "FlowLoadError",
    "HandoffRefused",
    "IvrJournal",
    "IvrRecord",
    "IvrService",
    "QueueHandoff",
    "QueuedCall",
    "ReloadReport",
    "SafeDefault",
    "load_flow",
]
