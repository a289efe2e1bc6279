"""Screen pops are card views too: each offered card is written to the audit log.

A subscriber of its own, off the pop's hot path: it writes in small batches, so a slow database
delays the audit trail by a moment, never the card on the operator's screen.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from crm_core import audit
from crm_core.bus import Bus, Overflow
from crm_core.db import Database
from routing.events import AgentOffered

log = logging.getLogger(__name__)

BATCH = 200


class PopAuditor:
    def __init__(self, db: Database, bus: Bus) -> None:
        self._db = db
        self._bus = bus
        self.written = 0

    async def run(self) -> None:
        subscription = self._bus.subscribe(
            "agent_desktop.pop_audit", AgentOffered, maxsize=100_000, overflow=Overflow.DROP_NEWEST
        )
        try:
            async for first in subscription:
                batch = [first]
                while len(batch) < BATCH and (more := subscription.get_nowait()) is not None:
                    batch.append(more)
                await self._write([ev for ev in batch if isinstance(ev, AgentOffered)])
        finally:
            self._bus.unsubscribe(subscription)

    async def _write(self, offers: list[AgentOffered]) -> None:
        rows = [o for o in offers if _contact(o) is not None and o.agent_id.isdigit()]
        if not rows:
            return
        try:
            async with self._db.session() as session:
                for offer in rows:
                    audit.record(
                        session,
                        at=offer.at,
                        user_id=int(offer.agent_id),
                        action="view",
                        object_type="contact",
                        object_id=_contact(offer) or "",
                        reason="screen_pop",
                        linkedid=offer.linkedid,
                    )
                await session.commit()
            self.written += len(rows)
        except SQLAlchemyError:
            log.exception("could not audit %d screen pops", len(rows))


def _contact(offer: AgentOffered) -> int | None:
    if offer.contact_id is not None:
        return offer.contact_id
    value = (offer.card or {}).get("contact_id")
    return value if isinstance(value, int) else None
