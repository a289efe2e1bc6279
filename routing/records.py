"""Writes what routing decided to the database, in bus order: every agent state change
(agent_state_log, for occupancy / pause / RONA reports) and, per call, the queue it waited in and
the agent who took it (the interaction log, beside what ami_bridge and the IVR record there)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from crm_core.bus import Bus, Event, Overflow, SubscriberOverflow
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from routing.events import AgentStateChanged, CallConnected, CallOverflowed, CallQueued
from routing.tables import AgentStateLog

log = logging.getLogger(__name__)

BATCH = 500


class RoutingRecorder:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._interactions = InteractionLog(db)
        self.written = 0
        self.failed = 0

    async def run(self, bus: Bus, subscribed: asyncio.Event) -> None:
        """Consume until the subscription is closed (by `bus.unsubscribe`), then drain."""
        while True:
            subscription = bus.subscribe(
                "routing-records",
                AgentStateChanged,
                CallQueued,
                CallOverflowed,
                CallConnected,
                maxsize=100_000,
                overflow=Overflow.FAIL,
            )
            self.subscription = subscription
            subscribed.set()
            try:
                async for event in subscription:
                    events = [event]
                    while len(events) < BATCH and (more := subscription.get_nowait()) is not None:
                        events.append(more)
                    await self._write(events)
                return
            except SubscriberOverflow:
                log.error("routing recorder overflowed; state changes were lost")

    async def _write(self, events: list[Event]) -> None:
        try:
            states = [e for e in events if isinstance(e, AgentStateChanged)]
            if states:
                await self._write_states(states)
            for event in events:
                await self._note_call(event)
        except SQLAlchemyError:
            self.failed += len(events)
            log.exception("routing records: %d events could not be written", len(events))

    async def _write_states(self, batch: list[AgentStateChanged]) -> None:
        async with self._db.session() as session:
            session.add_all(
                AgentStateLog(
                    agent_id=e.agent_id,
                    state=e.state.value,
                    previous=e.previous.value,
                    reason=e.reason,
                    linkedid=e.linkedid,
                    at=e.at,
                )
                for e in batch
            )
            await session.commit()
        self.written += len(batch)

    async def _note_call(self, event: Event) -> None:
        match event:
            case CallQueued(linkedid=linkedid, queue=queue, at=at):
                await self._interactions.call_updated(linkedid, at=at, queue=queue)
            case CallOverflowed(linkedid=linkedid, queue=queue, from_queue=old, at=at):
                if queue != old:
                    await self._interactions.call_updated(linkedid, at=at, queue=queue)
            case CallConnected(linkedid=linkedid, agent_id=agent_id, at=at):
                # the interaction refers to the user; ACD agent ids are user ids as text
                if agent_id.isdigit():
                    await self._interactions.call_updated(linkedid, at=at, agent_id=int(agent_id))
