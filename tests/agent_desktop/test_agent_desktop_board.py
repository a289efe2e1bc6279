"""The live board from events alone, in virtual time: what is pushed to whom."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agent_desktop.board import PANEL, LiveBoard, agent_topic
from ami_bridge.events import CallBridged, CallEnded, CallStarted, Direction, EndReason
from ami_bridge.link import LinkState
from ami_bridge.service import LinkStatusChanged
from dialer.events import OperatorActivity
from routing.agent_state import AgentState
from routing.events import (
    AgentOffered,
    AgentStateChanged,
    CallConnected,
    CallQueued,
    QueueStats,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
S = AgentState


def state(agent: str, to: S, prev: S, at: datetime, linkedid: str | None = None):
    return AgentStateChanged(agent_id=agent, state=to, previous=prev, at=at, linkedid=linkedid)


def test_offer_goes_to_its_agent_only_and_updates_the_panel() -> None:
    board = LiveBoard(ZoneInfo("Europe/London"))
    pushes = board.apply(
        AgentOffered(
            agent_id="7",
            linkedid="L1",
            queue="q",
            caller_number="+4411",
            card={"contact_id": 5, "name": "Ann"},
            at=T0,
        )
    )
    assert [topic for topic, _ in pushes] == [agent_topic("7"), PANEL]
    assert pushes[0][1]["call"]["card"]["name"] == "Ann"
    assert pushes[1][1]["agent"]["party"] == "Ann"
    assert board.may_open("7", 5) and not board.may_open("8", 5)


def test_handle_time_and_calls_today_accumulate_and_roll_over_at_local_midnight() -> None:
    board = LiveBoard(ZoneInfo("Europe/London"))
    board.apply(state("7", S.READY, S.LOGGED_OUT, T0))
    board.apply(state("7", S.RESERVED, S.READY, T0, "L1"))
    board.apply(state("7", S.RINGING, S.RESERVED, T0, "L1"))
    board.apply(state("7", S.ON_CALL, S.RINGING, T0 + timedelta(seconds=5), "L1"))
    board.apply(state("7", S.WRAP_UP, S.ON_CALL, T0 + timedelta(seconds=125), "L1"))
    board.apply(state("7", S.READY, S.WRAP_UP, T0 + timedelta(seconds=155)))
    view = board.agent("7")
    assert (view.calls_today, view.handle_s_today, view.linkedid) == (1, 150.0, None)
    board.apply(state("7", S.PAUSED, S.READY, T0 + timedelta(days=1)))
    assert (board.agent("7").calls_today, board.agent("7").handle_s_today) == (0, 0.0)


def test_channels_of_the_offered_call_are_learned_from_the_bridge() -> None:
    board = LiveBoard(ZoneInfo("UTC"))
    board.apply(
        CallStarted(
            linkedid="L1",
            at=T0,
            channel="Local/100@cb-hold-0;2",
            uniqueid="u1",
            caller_number="+4411",
            caller_name=None,
            context="cb-inbound",
            exten="100",
            direction=Direction.INBOUND,
        )
    )
    board.apply(
        AgentOffered(
            agent_id="7",
            linkedid="L1",
            queue="q",
            caller_number="+4411",
            card=None,
            endpoint="Local/agent1@cb-agents",
            at=T0,
        )
    )
    pushes = board.apply(
        CallBridged(
            linkedid="L1",
            at=T0,
            bridge_id="b",
            channel="x",
            parties=("Local/100@cb-hold-0;2", "Local/agent1@cb-agents-00000001;1"),
        )
    )
    call = board.calls["L1"]
    assert (call.caller_channel, call.agent_channel) == (
        "Local/100@cb-hold-0;2",
        "Local/agent1@cb-agents-00000001;1",
    )
    assert pushes[0][1]["call"]["bridged"] is True
    board.apply(state("7", S.WRAP_UP, S.ON_CALL, T0, "L1"))
    board.apply(
        CallEnded(
            linkedid="L1",
            at=T0,
            cause=16,
            cause_text="",
            duration_s=1,
            talk_s=1,
            reason=EndReason.HANGUP,
        )
    )
    assert board.current_call("7").ended  # kept on screen for the wrap-up
    board.apply(state("7", S.READY, S.WRAP_UP, T0))
    assert "L1" not in board.calls


def test_queue_figures_and_the_wallboard_history() -> None:
    board = LiveBoard(ZoneInfo("UTC"))
    board.apply(CallQueued(linkedid="L1", queue="q", priority=0, caller_number=None, at=T0))
    board.apply(CallQueued(linkedid="L2", queue="q", priority=0, caller_number=None, at=T0))
    board.apply(CallConnected(agent_id="7", linkedid="L1", queue="q", waited_s=3, at=T0))
    board.apply(
        QueueStats(
            queue="q",
            window="30m",
            waiting=1,
            longest_wait_s=3,
            agents_ready=1,
            agents_busy=1,
            agents_paused=0,
            offered=4,
            answered=3,
            answered_within_target=3,
            abandoned=1,
            service_level=75.0,
            asa_s=3,
            target_s=20,
            target_pct=80,
            at=T0,
        )
    )
    queue = board.panel_snapshot()["queues"][0]
    assert (queue["waiting"], queue["recent"]["service_level"]) == (1, 75.0)
    topic, message = board.sample(T0)
    assert topic == PANEL
    assert message["point"] == {"t": T0.isoformat(), "waiting": 1, "sl": 75.0}


def test_the_pbx_link_status_reaches_the_panels() -> None:
    board = LiveBoard(ZoneInfo("UTC"))
    pushes = board.apply(LinkStatusChanged(state=LinkState.WAITING, detail="refused", at=T0))
    assert pushes == [
        (
            PANEL,
            {
                "type": "link",
                "link": {"state": "waiting", "detail": "refused", "at": T0.isoformat()},
            },
        )
    ]
    assert board.panel_snapshot()["link"]["state"] == "waiting"


def test_campaign_operators_appear_in_the_grid_like_queue_agents() -> None:
    board = LiveBoard(ZoneInfo("Europe/London"))

    def activity(state: str, at: datetime, attempt: str | None = None) -> OperatorActivity:
        return OperatorActivity(campaign_id=1, agent_id="9", state=state, attempt_id=attempt, at=at)

    board.apply(activity("ready", T0))
    pushes = board.apply(activity("talking", T0 + timedelta(seconds=3), "dial-1-abc"))
    assert pushes[-1] == (PANEL, {"type": "agent", "agent": board.agent("9").to_dict()})
    assert board.agent("9").state is S.ON_CALL and board.agent("9").linkedid == "dial-1-abc"
    board.apply(activity("wrap_up", T0 + timedelta(seconds=93), "dial-1-abc"))
    board.apply(activity("ready", T0 + timedelta(seconds=113)))
    view = board.agent("9")
    assert (view.state, view.calls_today, view.handle_s_today) == (S.READY, 1, 110.0)
    assert board.apply(activity("unheard-of", T0)) == []
