"""Ringing an agent for one offer: push the card, ring, report the outcome.

The card (AgentOffered) goes on the bus BEFORE the Originate, so the desktop shows the debtor
before the phone rings. The Originate rings the agent's endpoint and, on answer, bridges it with
the waiting caller (trace 03). Its `ChannelId` names the agent leg, so the leg can be found (from
the tracker's LegStarted) and hung up if the caller leaves while it rings.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from ami_bridge.errors import AmiError
from ami_bridge.switch import (
    ApplicationTarget,
    OriginateOutcome,
    OriginateRequest,
    OriginateResult,
    Switch,
)
from crm_core.bus import Bus
from crm_core.card import Card
from crm_core.clock import Clock
from crm_core.db import Database
from crm_core.lookup import card_for_contact, lookup_by_phone
from routing.acd import Acd
from routing.dispatch import Offer
from routing.events import AgentOffered, OfferFailure
from routing.waiting import CallStatus

log = logging.getLogger(__name__)

FAILURE = {
    OriginateOutcome.NO_ANSWER: OfferFailure.NO_ANSWER,
    OriginateOutcome.BUSY: OfferFailure.BUSY,
    OriginateOutcome.CONGESTION: OfferFailure.CONGESTION,
    OriginateOutcome.FAILED: OfferFailure.FAILED,
}

_DIALABLE = re.compile(r"[^0-9+*#]")
# The Originate ChannelId of every agent leg starts with this: the tracker's DirectionRules
# (set by the composition root) know such a channel as Callboard's own leg, never a call.
AGENT_LEG_ID_PREFIX = "cb-acd-"

Spawn = Callable[[Coroutine[Any, Any, None], str], None]


@dataclass(slots=True)
class AgentLeg:
    """The Originate ringing an agent for one call; its channel name once the PBX reports it."""

    linkedid: str
    channel_id: str
    channel: str | None = None
    cancelled: bool = False


class Ringer:
    def __init__(
        self,
        acd: Acd,
        *,
        bus: Bus,
        switch: Switch,
        clock: Clock,
        db: Database | None,
        default_region: str,
        card_timeout_s: float,
        flush: Callable[[], None],
        spawn: Spawn,
    ) -> None:
        self._acd = acd
        self._bus = bus
        self._switch = switch
        self._clock = clock
        self._db = db
        self._region = default_region
        self._card_timeout = card_timeout_s
        self._flush = flush
        self._spawn = spawn
        self._legs: dict[str, AgentLeg] = {}  # by the channel id given to the Originate
        self._leg_ids = itertools.count(1)

    def leg_started(self, uniqueid: str, channel: str) -> None:
        """The tracker saw a new leg; if it is one of our agent legs, learn its channel."""
        leg = self._legs.get(uniqueid)
        if leg is None:
            return
        leg.channel = channel
        if leg.cancelled:
            self._spawn(self._hangup(channel, leg.linkedid), "acd-cancel-leg")

    def caller_left(self, linkedid: str) -> None:
        """The caller hung up while its agent was being rung: stop ringing the agent."""
        for leg in list(self._legs.values()):
            if leg.linkedid == linkedid:
                self._cancel(leg)

    def _cancel(self, leg: AgentLeg) -> None:
        """Hang the agent leg up now if its channel is known, else as soon as it is (when the
        tracker reports it, or when the Originate returns answered)."""
        leg.cancelled = True
        if leg.channel is not None:
            self._spawn(self._hangup(leg.channel, leg.linkedid), "acd-cancel-leg")

    def still_offered(self, offer: Offer) -> bool:
        call = self._acd.call(offer.linkedid)
        return (
            call is not None
            and call.status is CallStatus.OFFERED
            and call.agent_id == offer.agent_id
        )

    async def ring(self, offer: Offer) -> None:
        card = await self._card(offer)
        if not self.still_offered(offer):
            return  # the caller hung up during the lookup: the agent is ready again
        self._bus.publish(
            AgentOffered(
                agent_id=offer.agent_id,
                linkedid=offer.linkedid,
                queue=offer.queue,
                caller_number=offer.caller_number,
                card=card,
                contact_id=offer.contact_id,
                ivr_path=offer.ivr_path,
                priority=offer.priority,
                waited_s=offer.waited_s,
                endpoint=offer.endpoint,
                at=self._clock.now(),
            )
        )
        self._acd.ringing(offer.linkedid)
        self._flush()
        leg = AgentLeg(
            offer.linkedid, f"{AGENT_LEG_ID_PREFIX}{offer.linkedid}-{next(self._leg_ids)}"
        )
        self._legs[leg.channel_id] = leg
        number = _DIALABLE.sub("", offer.caller_number or "")  # never raw wire text in a header
        caller_id = f'"{number}" <{number}>' if number else None
        try:
            result = await self._switch.originate(
                OriginateRequest(
                    endpoint=offer.endpoint,
                    # option T: the operator may consult and transfer (the Atxfer action needs it)
                    target=ApplicationTarget("Bridge", f"{offer.caller_channel},T"),
                    caller_id=caller_id,
                    ring_timeout=offer.ring_timeout_s,
                    channel_id=leg.channel_id,
                    variables={"CB_LINKEDID": offer.linkedid, "CB_AGENT": offer.agent_id},
                )
            )
        except AmiError as exc:
            log.warning(
                "ringing agent failed linkedid=%s agent=%s: %s", offer.linkedid, offer.agent_id, exc
            )
            self._cancel(leg)
            self._fail(offer, OfferFailure.FAILED)
            return
        finally:
            self._legs.pop(leg.channel_id, None)
        self._rung(offer, leg, result)

    def _rung(self, offer: Offer, leg: AgentLeg, result: OriginateResult) -> None:
        log.info(
            "agent leg outcome linkedid=%s agent=%s outcome=%s",
            offer.linkedid,
            offer.agent_id,
            result.outcome.value,
        )
        if result.answered:
            if self.still_offered(offer):
                self._acd.answered(offer.linkedid, agent_channel=result.channel)
                self._flush()
            elif leg.cancelled:  # the caller left while it rang; the agent answered anyway
                self._spawn(self._hangup(result.channel, offer.linkedid), "acd-cancel-leg")
            return
        self._fail(offer, FAILURE[result.outcome])

    def _fail(self, offer: Offer, cause: OfferFailure) -> None:
        if self.still_offered(offer):
            self._acd.offer_failed(offer.linkedid, cause)
            self._flush()

    async def _hangup(self, channel: str, linkedid: str) -> None:
        try:
            await self._switch.hangup(channel)
        except AmiError as exc:  # usually: it ended by itself meanwhile
            log.info("agent leg hangup linkedid=%s channel=%s: %s", linkedid, channel, exc)

    async def _card(self, offer: Offer) -> dict[str, Any] | None:
        """The debtor's card as plain data; None when unknown or not found in time (the agent
        must not ring late because the database is slow)."""
        if self._db is None or (offer.contact_id is None and not offer.caller_number):
            return None
        try:
            # the Database (not a session) reads the whole card in one worker-thread hop
            async with asyncio.timeout(self._card_timeout):
                card: Card | None
                if offer.contact_id is not None:
                    card = await card_for_contact(self._db, offer.contact_id)
                else:
                    card = await lookup_by_phone(self._db, offer.caller_number or "", self._region)
        except TimeoutError:
            log.warning("card lookup timed out linkedid=%s", offer.linkedid)
            return None
        except (LookupError, SQLAlchemyError) as exc:
            log.warning("card lookup failed linkedid=%s: %s", offer.linkedid, exc)
            return None
        return card.to_dict() if card is not None else None
