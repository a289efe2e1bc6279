"""A blended operator shared by the ACD and the dialer, end to end over TCP on pbx_sim.

The operator is logged into the ACD and joins the campaign from the desk's service: their
nailed-up line goes up and they stay ready for inbound calls. A debtor answers and is moved into
their conference: from that moment the ACD has them paused, so an inbound caller who arrives
meanwhile waits and is never offered to them. Once the campaign call and its wrap-up are over,
the inbound caller is offered to them; while that inbound call lasts the dialer's pacer counts
them as busy and no debtor is given to them. Leaving hangs their line up.
"""

from __future__ import annotations

from crm_core.db import Database
from crm_core.models import Role, User
from dialer.campaign import CampaignState
from dialer.operators import OperatorState
from dialer.pacing import Activity
from dialer.seats import CAMPAIGN_CALL_PAUSE
from routing.agent_state import AgentState
from routing.waiting import CallStatus
from tests.dialer.seat_support import CAMPAIGN_ID, START, floor
from tests.waiting import eventually

AGENT = "7"


async def _operator(db: Database) -> None:
    async with db.session() as s:
        s.add(
            User(
                id=7,
                username="olga",
                role=Role.OPERATOR,
                password_hash="x",
                endpoint="Local/agent1@cb-agents",
                created_at=START,
            )
        )
        await s.commit()


async def test_a_blended_operator_is_never_offered_inbound_on_a_campaign_call(
    sqlite_db: Database,
) -> None:
    await _operator(sqlite_db)
    async with floor(sqlite_db, debtor_talk_s=4.0, wrap_up_s=1.5) as f:
        acd = f.acd.acd
        f.acd.login(AGENT, "Local/agent1@cb-agents", {})
        f.seats.set_blended(CAMPAIGN_ID, AGENT, True)
        seat = await f.seats.join(AGENT, CAMPAIGN_ID)
        assert seat["state"] == "waiting" and seat["blended"] is True
        assert acd.agent(AGENT).state is AgentState.READY  # blended: inbound calls too
        line = f.seats.seat(AGENT).channel
        assert line and line.startswith("Local/agent1@cb-agent-phone")

        await f.dialer.move(CampaignState.RUNNING, "test")
        op = f.dialer.roster.get(AGENT)
        await eventually(lambda: op.state is OperatorState.TALKING, what="the debtor reaches them")
        # the ACD holds them off at once: paused for the campaign call
        assert (acd.agent(AGENT).state, acd.agent(AGENT).reason) == (
            AgentState.PAUSED,
            CAMPAIGN_CALL_PAUSE,
        )
        assert f.seats.state(AGENT)["state"] == "on_call"
        await f.queue_caller("in-1")
        call = acd.call("in-1")
        assert call is not None and call.status is CallStatus.WAITING
        # the whole campaign call long, the inbound caller is never offered to them
        await eventually(lambda: op.state is OperatorState.WRAP_UP, what="the debtor hangs up")
        assert acd.call("in-1").status is CallStatus.WAITING
        assert acd.agent(AGENT).state is AgentState.PAUSED

        # the campaign wrap-up over: ready for both, and the inbound caller is theirs
        await eventually(
            lambda: acd.agent(AGENT).state in (AgentState.RINGING, AgentState.ON_CALL),
            what="the inbound caller is offered once the campaign call is over",
        )
        assert acd.agent(AGENT).linkedid == "in-1"
        assert op.state is OperatorState.READY and not f.seats.free(AGENT)
        # the pacer counts them busy; no debtor is given to them meanwhile
        loads = f.dialer.roster.loads(f.clock.monotonic(), f.dialer.sharing.free)
        assert [load.activity for load in loads] == [Activity.TALKING]
        assert f.dialer.roster.take_ready(f.clock.monotonic(), "x", f.dialer.sharing.free) is None
        assert f.seats.state(AGENT)["state"] == "inbound"

        await f.dialer.move(CampaignState.PAUSED, "test over")
        f.seats.leave(AGENT)
        assert f.seats.seat(AGENT) is None
        await eventually(
            lambda: not any(c.name.startswith("Local/agent1@cb-agent-phone") for c in _live(f)),
            what="the nailed-up line is hung up",
        )


def _live(f):  # type: ignore[no-untyped-def]
    return list(f.sim.world.channels.values())
