"""What a disposition does to the attempt ledger: a right-party disposition on any call (a
campaign's, a manual dial's, an inbound one) is a conversation with the debtor about the debt,
and starts the quiet week after a conversation (Regulation F counts conversations, whoever
dialled). The disposition rule (crm_core.dispositions) calls `record_disposition`, handed
to it by the edges, after every save and correction.

- the call's own attempts (a campaign attempt: its id is the Linkedid; a manual dial: its
  attempts share the call id) are marked as a conversation;
- a call with no attempt of ours (the debtor called in) gets an `inbound` ledger row per debt
  it was about (the call's debt, else every open debt of the caller): on record for the quiet
  week, never counted as a dial attempt for the caps.
A later correction never clears a conversation already on record: the ledger only grows.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import or_, select, update

from crm_core.db import Database
from crm_core.models import Debt, DebtStatus
from dialer.attempts import Attempt
from dialer.ledger import AttemptLedger
from dialer.manual import ensure_campaign
from dialer.tables import DialAttemptRow

INBOUND_CAMPAIGN = "inbound-calls"  # the ledger row conversations on inbound calls are filed under
CLOSED_DEBTS = (DebtStatus.PAID.value, DebtStatus.CLOSED.value)


async def record_disposition(
    db: Database,
    *,
    linkedid: str,
    right_party: bool,
    contact_id: int | None,
    debt_id: int | None,
    phone: str,
    started_at: datetime,
    ended_at: datetime | None,
    now: datetime,
) -> list[str]:
    """The ledger side of a saved disposition; returns the attempt ids marked."""
    if not right_party:
        return []
    async with db.session() as session:
        result = await session.execute(
            update(DialAttemptRow)
            .where(or_(DialAttemptRow.call_id == linkedid, DialAttemptRow.attempt_id == linkedid))
            .values(right_party_contact=True)
            .returning(DialAttemptRow.attempt_id)
        )
        marked = [row[0] for row in result]
        await session.commit()
    if marked:
        return marked
    debts = [debt_id] if debt_id is not None else []
    if not debts and contact_id is not None:
        async with db.session() as session:
            debts = list(
                await session.scalars(
                    select(Debt.id).where(
                        Debt.contact_id == contact_id, Debt.status.not_in(CLOSED_DEBTS)
                    )
                )
            )
    if not debts:
        return []
    campaign_id = await ensure_campaign(db, INBOUND_CAMPAIGN, "conversations on inbound calls", now)
    ledger = AttemptLedger(db)
    ids = []
    for debt in debts:
        digest = hashlib.sha1(f"{linkedid}/{debt}".encode()).hexdigest()[:24]
        attempt_id = f"conv-{digest}"
        await ledger.started(
            Attempt(
                attempt_id=attempt_id,
                campaign_id=campaign_id,
                debt_id=debt,
                phone=phone[:20],
                started_at=started_at,
                ended_at=ended_at or now,
                right_party_contact=True,
                call_id=linkedid,
                inbound=True,
            )
        )
        ids.append(attempt_id)
    return ids
