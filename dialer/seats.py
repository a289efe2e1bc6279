"""Operators joining and leaving campaigns from their desk, and sharing their time with the ACD.

Joining originates the operator's nailed-up line (trace 08: `Originate Channel=<their phone's
nailed-up variant> Application=ConfBridge Data=<conference>,cc_bridge,cc_agent`) and tells the
ACD, so that nobody is offered an inbound call while working a campaign, unless a supervisor made
them *blended* for that campaign. Leaving never cuts a call: an operator on a campaign call
takes no other, their line is hung up once the debtor is gone, and they leave the roster at the
end of that call's wrap-up.

Blended operators are shared by the ACD and the dialer, each reading the other's state:
- the dialer gives a debtor only to an operator the ACD does not hold (no inbound call offered,
  ringing, connected or in its wrap-up), and its pacer counts one the ACD holds as busy;
- the moment the dialer gives them a debtor, the ACD has them paused (`campaign_call`), so an
  inbound call never rings an operator on a campaign call; after the campaign call's wrap-up
  they are ready for both again.
A non-blended operator is paused in the ACD (`campaign`) for the whole time on the campaign.

The rules are the plain functions at the top; `CampaignSeats` is the service the desk (and the
supervisor API) calls. Both the ACD core and the dialers run in one event loop, and every
decision that reads one and writes the other runs without an await in between.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ami_bridge.errors import AmiError
from ami_bridge.switch import ApplicationTarget, OriginateRequest, Switch
from crm_core.db import Database
from crm_core.models import User
from dialer.operators import OperatorError, OperatorState
from dialer.service import CampaignDialer
from routing.agent_state import AgentState
from routing.errors import RoutingError
from routing.service import AcdService

log = logging.getLogger(__name__)

S = AgentState
CAMPAIGN_PAUSE = "campaign"  # ACD pause reason: working a campaign, not blended
CAMPAIGN_CALL_PAUSE = "campaign_call"  # ACD pause reason: a blended operator on a campaign call
OUR_PAUSES = frozenset({CAMPAIGN_PAUSE, CAMPAIGN_CALL_PAUSE})
LINE_CONTEXT = "cb-agent-phone"  # where a phone's nailed-up variant is dialled
HANDLING = frozenset({S.RESERVED, S.RINGING, S.ON_CALL, S.WRAP_UP})


class SeatError(ValueError):
    """A join, leave or blend the rules refuse; `code` names the reason for the API."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SeatState(enum.StrEnum):
    """What the desk shows of the operator's campaign."""

    JOINING = "joining"  # the nailed-up line is being rung
    WAITING = "waiting"  # in the conference, waiting for a debtor
    INBOUND = "inbound"  # blended, on an inbound call: the campaign waits for them
    ON_CALL = "on_call"  # a debtor is in their conference
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    LEAVING = "leaving"  # finishing their last call


# -- the rules ---------------------------------------------------------------------------------


def nailed_line(endpoint: str) -> tuple[str, str]:
    """(what to dial, conference) for a phone endpoint: `PJSIP/1001` -> `Local/1001@cb-agent-
    phone` and conference `1001`; `Local/agent1@cb-agents` -> `Local/agent1@cb-agent-phone`,
    `agent1`. The conference is the cb-conf extension the dialer redirects debtors to."""
    tech, _, rest = endpoint.partition("/")
    resource = rest.split("@", 1)[0]
    if not tech or not resource or not all(c.isalnum() or c in "-_." for c in resource):
        raise SeatError("seat.no_endpoint", f"no phone endpoint to nail up ({endpoint!r})")
    return f"Local/{resource}@{LINE_CONTEXT}", resource


def free_for_campaign(state: AgentState, reason: str | None, blended: bool) -> bool:
    """May the dialer give this operator a debtor, given their ACD state? Never while the ACD
    holds them (an inbound call offered, connected or in wrap-up) or they paused themselves."""
    if state is S.LOGGED_OUT:
        return True
    if state is S.PAUSED:
        return reason in OUR_PAUSES
    if state is S.READY:
        return blended
    return False


def acd_on_join(state: AgentState, blended: bool) -> str | None:
    """What joining does to the ACD agent: "pause" (no inbound from now on), None (unchanged).
    A non-blended operator handling an inbound call finishes it first."""
    if blended or state is S.LOGGED_OUT:
        return None
    if state in HANDLING:
        raise SeatError("seat.busy", "finish your call (and its wrap-up) before joining")
    return "pause"


def acd_after(
    state: AgentState, reason: str | None, before: tuple[AgentState, str | None]
) -> tuple[str, str | None] | None:
    """What leaving does to the ACD agent: back to where they were before joining, if the
    campaign still holds them (a sign-out or a pause of their own meanwhile is kept)."""
    if state is not S.PAUSED or reason not in OUR_PAUSES:
        return None
    was, was_reason = before
    if was is S.LOGGED_OUT:
        return "logout", None
    if was is S.PAUSED and was_reason not in OUR_PAUSES:
        return "pause", was_reason
    return "ready", None


def acd_for_blend(
    state: AgentState, reason: str | None, blended: bool, on_campaign_call: bool
) -> tuple[str, str | None] | None:
    """What a supervisor's blend change does to a seated operator's ACD agent."""
    if state is S.LOGGED_OUT:
        return None
    if blended:
        if state is S.PAUSED and reason == CAMPAIGN_PAUSE:
            return ("pause", CAMPAIGN_CALL_PAUSE) if on_campaign_call else ("ready", None)
        return None
    if state is S.READY or state in HANDLING or (state is S.PAUSED and reason in OUR_PAUSES):
        return "pause", CAMPAIGN_PAUSE  # after the inbound call when handling one
    return None


# -- the service -------------------------------------------------------------------------------


@dataclass(slots=True)
class Seat:
    agent_id: str
    campaign_id: int
    conference: str
    blended: bool
    before: tuple[AgentState, str | None]  # the ACD state before joining
    joining: bool = True
    channel: str | None = None  # the nailed-up line, once up
    hung_up: bool = False


@dataclass
class CampaignSeats:
    """Join / leave / blend for the desk and the supervisors; the dialers' `Sharing`."""

    acd: AcdService
    dialers: Mapping[int, CampaignDialer]
    switch: Switch
    db: Database
    ring_timeout_s: float = 30.0
    line_variables: Mapping[str, str] = field(default_factory=dict)
    _seats: dict[str, Seat] = field(default_factory=dict)
    _blended: set[tuple[int, str]] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for dialer in self.dialers.values():
            dialer.sharing = self

    # -- reading -------------------------------------------------------------------------------

    def _acd_state(self, agent_id: str) -> tuple[AgentState, str | None]:
        agent = self.acd.acd.agents.find(agent_id)
        return (S.LOGGED_OUT, None) if agent is None else (agent.state, agent.reason)

    def seat(self, agent_id: str) -> Seat | None:
        return self._seats.get(agent_id)

    def is_blended(self, campaign_id: int, agent_id: str) -> bool:
        return (campaign_id, agent_id) in self._blended

    def _dialer(self, campaign_id: int) -> CampaignDialer:
        dialer = self.dialers.get(campaign_id)
        if dialer is None:
            raise SeatError("seat.no_campaign", f"campaign {campaign_id} is not running here")
        return dialer

    def state(self, agent_id: str) -> dict[str, Any] | None:
        """The operator's campaign as the desk shows it; None when on none."""
        seat = self._seats.get(agent_id)
        if seat is None:
            return None
        dialer = self._dialer(seat.campaign_id)
        attempt = None
        if seat.joining:
            state = SeatState.JOINING
        else:
            op = next((o for o in dialer.roster if o.agent_id == agent_id), None)
            if op is None:
                state = SeatState.LEAVING
            else:
                attempt = op.attempt_id
                state = {
                    OperatorState.READY: SeatState.WAITING,
                    OperatorState.TALKING: SeatState.ON_CALL,
                    OperatorState.WRAP_UP: SeatState.WRAP_UP,
                    OperatorState.PAUSED: SeatState.PAUSED,
                }[op.state]
                if op.leaving:
                    state = SeatState.LEAVING
                elif state is SeatState.WAITING and not self.free(agent_id):
                    state = SeatState.INBOUND
        return {
            "campaign_id": seat.campaign_id,
            "name": dialer.campaign.settings.name,
            "dial_mode": dialer.campaign.settings.dial_mode.value,
            "state": state.value,
            "blended": seat.blended,
            "attempt_id": attempt,
        }

    def campaigns_for(self, agent_id: str) -> list[dict[str, Any]]:
        """The running campaigns this operator may join."""
        return [
            {
                "campaign_id": campaign_id,
                "name": dialer.campaign.settings.name,
                "state": dialer.campaign.state.value,
                "blended": self.is_blended(campaign_id, agent_id),
            }
            for campaign_id, dialer in sorted(self.dialers.items())
            if not dialer.campaign.settings.operators
            or agent_id in dialer.campaign.settings.operators
        ]

    # -- the desk's commands -------------------------------------------------------------------

    async def join(self, agent_id: str, campaign_id: int) -> dict[str, Any]:
        """Nail the operator's line up into their conference and put them on the campaign."""
        dialer = self._dialer(campaign_id)
        if agent_id in self._seats:
            raise SeatError("seat.already_joined", "you are already on a campaign: leave it first")
        assigned = dialer.campaign.settings.operators
        if assigned and agent_id not in assigned:
            raise SeatError("seat.not_assigned", "you are not assigned to this campaign")
        async with self.db.session() as session:
            user = await session.get(User, int(agent_id)) if agent_id.isdigit() else None
        if user is None or not user.active:
            raise SeatError("seat.no_user", f"no active user {agent_id}")
        endpoint, conference = nailed_line(user.endpoint or "")
        blended = self.is_blended(campaign_id, agent_id)
        before = self._acd_state(agent_id)
        change = acd_on_join(before[0], blended)
        seat = Seat(agent_id, campaign_id, conference, blended, before)
        self._seats[agent_id] = seat  # from now on: no second join, no inbound offer
        if change == "pause":
            self.acd.pause(agent_id, CAMPAIGN_PAUSE)
        try:
            line = await self.switch.originate(
                OriginateRequest(
                    endpoint=endpoint,
                    target=ApplicationTarget("ConfBridge", f"{conference},cc_bridge,cc_agent"),
                    variables=dict(self.line_variables),
                    ring_timeout=self.ring_timeout_s,
                )
            )
        except AmiError as exc:
            self._undo_join(seat)
            raise SeatError("seat.line_failed", f"your line could not be placed: {exc}") from exc
        if not line.answered:
            self._undo_join(seat)
            raise SeatError("seat.line_failed", f"your phone did not answer ({line.reason_text})")
        seat.channel, seat.joining = line.channel, False
        try:
            dialer.join_operator(agent_id, conference, line=line.uniqueid or None)
        except OperatorError as exc:
            self._undo_join(seat)
            self._hang_up(seat)
            raise SeatError("seat.not_assigned", str(exc)) from exc
        log.info("operator %s joined campaign %s on %s", agent_id, campaign_id, line.channel)
        return self.state(agent_id) or {}

    def _undo_join(self, seat: Seat) -> None:
        self._seats.pop(seat.agent_id, None)
        self._restore_acd(seat)

    def leave(self, agent_id: str) -> dict[str, Any] | None:
        """Leave now, or after the current call (never mid-call). Returns the state left."""
        seat = self._seats.get(agent_id)
        if seat is None:
            raise SeatError("seat.not_joined", "you are not on a campaign")
        if seat.joining:
            raise SeatError("seat.joining", "your line is being set up: leave once it is up")
        dialer = self._dialer(seat.campaign_id)
        try:
            dialer.leave_operator(agent_id)
        except OperatorError:  # their line ended meanwhile: the roster let them go already
            self.left(agent_id)
        return self.state(agent_id)

    def ready(self, agent_id: str) -> None:
        """The desk's Ready while on a campaign: out of the campaign wrap-up or pause, and, for
        a blended operator, out of an inbound wrap-up or pause too."""
        seat = self._seats.get(agent_id)
        if seat is None or seat.joining:
            raise SeatError("seat.not_joined", "you are not on a campaign")
        dialer = self._dialer(seat.campaign_id)
        op = dialer.roster.get(agent_id)
        if op.state in (OperatorState.WRAP_UP, OperatorState.PAUSED):
            dialer.operator_ready(agent_id)
        if agent_id not in self._seats:
            return  # it was a leaving operator's last wrap-up: they are off the campaign
        state, reason = self._acd_state(agent_id)
        if state is S.WRAP_UP or (state is S.PAUSED and reason not in OUR_PAUSES):
            if seat.blended:
                self.acd.make_ready(agent_id)
            else:
                self.acd.pause(agent_id, CAMPAIGN_PAUSE)

    def pause(self, agent_id: str, reason: str) -> None:
        """The desk's Pause while on a campaign: no debtor and no inbound call until Ready."""
        seat = self._seats.get(agent_id)
        if seat is None or seat.joining:
            raise SeatError("seat.not_joined", "you are not on a campaign")
        dialer = self._dialer(seat.campaign_id)
        op = dialer.roster.get(agent_id)
        if op.state is OperatorState.TALKING:
            raise SeatError("seat.on_call", "finish the call before pausing")
        if op.state is not OperatorState.PAUSED:
            dialer.pause_operator(agent_id)
        if self._acd_state(agent_id)[0] is not S.LOGGED_OUT:
            self.acd.pause(agent_id, reason)

    # -- the supervisor's command --------------------------------------------------------------

    def set_blended(self, campaign_id: int, agent_id: str, blended: bool) -> None:
        """Mark an operator blended (inbound calls too) for a campaign, or not."""
        dialer = self._dialer(campaign_id)
        assigned = dialer.campaign.settings.operators
        if assigned and agent_id not in assigned:
            raise SeatError("seat.not_assigned", f"operator {agent_id} is not on this campaign")
        if blended:
            self._blended.add((campaign_id, agent_id))
        else:
            self._blended.discard((campaign_id, agent_id))
        seat = self._seats.get(agent_id)
        if seat is None or seat.campaign_id != campaign_id or seat.blended == blended:
            return
        seat.blended = blended
        on_call = any(
            op.agent_id == agent_id and op.state is not OperatorState.READY for op in dialer.roster
        )
        self._apply(agent_id, acd_for_blend(*self._acd_state(agent_id), blended, on_call))

    # -- Sharing: what the dialers ask and tell --------------------------------------------------

    def free(self, agent_id: str) -> bool:
        seat = self._seats.get(agent_id)
        state, reason = self._acd_state(agent_id)
        return free_for_campaign(state, reason, seat.blended if seat else False)

    def engaged(self, agent_id: str) -> None:
        if self._acd_state(agent_id)[0] is S.READY:
            self.acd.pause(agent_id, CAMPAIGN_CALL_PAUSE)

    def released(self, agent_id: str) -> None:
        if self._acd_state(agent_id) == (S.PAUSED, CAMPAIGN_CALL_PAUSE):
            self.acd.make_ready(agent_id)

    def finished(self, agent_id: str) -> None:
        seat = self._seats.get(agent_id)
        if seat is not None:
            self._hang_up(seat)

    def left(self, agent_id: str) -> None:
        seat = self._seats.pop(agent_id, None)
        if seat is None:
            return
        self._hang_up(seat)
        self._restore_acd(seat)
        log.info("operator %s left campaign %s", agent_id, seat.campaign_id)

    # -- I/O -----------------------------------------------------------------------------------

    def _restore_acd(self, seat: Seat) -> None:
        self._apply(seat.agent_id, acd_after(*self._acd_state(seat.agent_id), seat.before))

    def _apply(self, agent_id: str, change: tuple[str, str | None] | None) -> None:
        if change is None:
            return
        action, reason = change
        try:
            if action == "ready":
                self.acd.make_ready(agent_id)
            elif action == "logout":
                self.acd.logout(agent_id)
            else:
                self.acd.pause(agent_id, reason or CAMPAIGN_PAUSE)
        except (RoutingError, ValueError) as exc:
            log.warning("agent %s: ACD refused %s (%s)", agent_id, action, exc)

    def _hang_up(self, seat: Seat) -> None:
        if seat.channel is None or seat.hung_up:
            return
        seat.hung_up = True
        task = asyncio.get_running_loop().create_task(
            self._hangup(seat.channel), name=f"seat-hangup-{seat.agent_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hangup(self, channel: str) -> None:
        try:
            await self.switch.hangup(channel, 16)
        except AmiError as exc:
            log.info("nailed-up line %s already gone: %s", channel, exc)

    async def close(self) -> None:
        for task in list(self._tasks):
            await asyncio.gather(task, return_exceptions=True)
