"""The campaigns of this process: one CampaignDialer per stored campaign, all owned here."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from sqlalchemy import select

from ami_bridge.switch import Switch
from crm_core.bus import Bus
from crm_core.clock import Clock
from crm_core.db import Database
from dialer.campaign import Campaign, CampaignError, CampaignState
from dialer.service import CampaignDialer
from dialer.tables import CampaignRow

log = logging.getLogger(__name__)


async def start_campaigns(
    stack: AsyncExitStack,
    *,
    db: Database,
    bus: Bus,
    switch: Switch,
    clock: Clock,
    wrap_up_s: float,
) -> dict[int, CampaignDialer]:
    """Loads every valid campaign and runs its dialer; a broken definition is logged and left
    out (the supervisor panel still lists it), never allowed to stop the process."""
    async with db.session() as session:
        rows = (await session.execute(select(CampaignRow).order_by(CampaignRow.id))).scalars()
        stored = list(rows)
    dialers: dict[int, CampaignDialer] = {}
    for row in stored:
        campaign_id, name, state, reason = row.id, row.name, row.state, row.state_reason
        try:
            settings = row.campaign_settings()
            campaign = Campaign(campaign_id, settings, CampaignState(state), reason)
        except (CampaignError, ValueError) as exc:
            log.warning("campaign %s (%s) not loaded: %s", campaign_id, name, exc)
            continue
        dialers[campaign_id] = CampaignDialer(
            campaign, db=db, bus=bus, switch=switch, clock=clock, wrap_up_s=wrap_up_s
        )
    tasks = [asyncio.create_task(d.run(), name=f"campaign-{i}") for i, d in dialers.items()]

    async def stop() -> None:
        for dialer in dialers.values():
            dialer.stop()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for dialer_id, result in zip(dialers, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("campaign %s ended with an error", dialer_id, exc_info=result)

    stack.push_async_callback(stop)
    return dialers
