"""The rules of campaigns worked from the desk: the nailed-up line, who the dialer may take,
what joining, leaving and blending do to the ACD agent, and a leaving operator's roster."""

from __future__ import annotations

import pytest

from dialer.operators import OperatorRoster, OperatorState
from dialer.pacing import Activity
from dialer.seats import (
    CAMPAIGN_CALL_PAUSE,
    CAMPAIGN_PAUSE,
    SeatError,
    acd_after,
    acd_for_blend,
    acd_on_join,
    free_for_campaign,
    nailed_line,
)
from routing.agent_state import AgentState as S


def test_the_nailed_up_variant_of_a_phone() -> None:
    assert nailed_line("Local/agent1@cb-agents") == ("Local/agent1@cb-agent-phone", "agent1")
    assert nailed_line("PJSIP/1001") == ("Local/1001@cb-agent-phone", "1001")
    for bad in ("", "PJSIP/", "1001", "PJSIP/10 01", "PJSIP/a,b"):
        with pytest.raises(SeatError):
            nailed_line(bad)


@pytest.mark.parametrize(
    ("state", "reason", "blended", "free"),
    [
        (S.LOGGED_OUT, None, False, True),
        (S.PAUSED, CAMPAIGN_PAUSE, False, True),
        (S.PAUSED, CAMPAIGN_CALL_PAUSE, True, True),
        (S.PAUSED, "lunch", True, False),  # paused themselves
        (S.READY, None, True, True),  # blended: ready for both
        (S.READY, None, False, False),  # not blended: the ACD's (never, while seated)
        (S.RESERVED, None, True, False),  # inbound call offered: the ACD holds them
        (S.RINGING, None, True, False),
        (S.ON_CALL, None, True, False),
        (S.WRAP_UP, None, True, False),
    ],
)
def test_who_the_dialer_may_take(state, reason, blended, free) -> None:
    assert free_for_campaign(state, reason, blended) is free


def test_joining_pauses_the_acd_agent_unless_blended() -> None:
    assert acd_on_join(S.READY, blended=False) == "pause"
    assert acd_on_join(S.PAUSED, blended=False) == "pause"
    assert acd_on_join(S.LOGGED_OUT, blended=False) is None
    assert acd_on_join(S.READY, blended=True) is None
    assert acd_on_join(S.ON_CALL, blended=True) is None  # the dialer waits for them
    with pytest.raises(SeatError, match="finish your call"):
        acd_on_join(S.ON_CALL, blended=False)


def test_leaving_puts_the_acd_agent_back_where_it_was() -> None:
    assert acd_after(S.PAUSED, CAMPAIGN_PAUSE, (S.READY, None)) == ("ready", None)
    assert acd_after(S.PAUSED, CAMPAIGN_PAUSE, (S.LOGGED_OUT, None)) == ("logout", None)
    assert acd_after(S.PAUSED, CAMPAIGN_PAUSE, (S.PAUSED, "lunch")) == ("pause", "lunch")
    assert acd_after(S.PAUSED, "lunch", (S.READY, None)) is None  # their own pause stays
    assert acd_after(S.LOGGED_OUT, None, (S.READY, None)) is None  # signed out meanwhile
    assert acd_after(S.READY, None, (S.READY, None)) is None  # blended: stays ready


def test_a_blend_change_moves_the_acd_agent() -> None:
    assert acd_for_blend(S.PAUSED, CAMPAIGN_PAUSE, True, on_campaign_call=False) == ("ready", None)
    assert acd_for_blend(S.PAUSED, CAMPAIGN_PAUSE, True, on_campaign_call=True) == (
        "pause",
        CAMPAIGN_CALL_PAUSE,
    )
    assert acd_for_blend(S.READY, None, False, on_campaign_call=False) == ("pause", CAMPAIGN_PAUSE)
    assert acd_for_blend(S.ON_CALL, None, False, on_campaign_call=False) == (
        "pause",
        CAMPAIGN_PAUSE,
    )  # after the inbound call
    assert acd_for_blend(S.PAUSED, "lunch", False, on_campaign_call=False) is None
    assert acd_for_blend(S.LOGGED_OUT, None, True, on_campaign_call=False) is None


def test_an_operator_the_acd_holds_is_never_given_a_debtor_and_counts_as_busy() -> None:
    roster = OperatorRoster()
    roster.join("1", "agent1", now=0.0)
    roster.join("2", "agent2", now=5.0)
    inbound = {"1"}  # the ACD offered operator 1 an inbound call
    free = lambda agent: agent not in inbound  # noqa: E731
    loads = roster.loads(10.0, free)
    assert sorted(a.activity for a in loads) == [Activity.READY, Activity.TALKING]
    taken = roster.take_ready(10.0, "a1", free)
    assert taken is not None and taken.agent_id == "2"  # not 1, though ready the longest
    assert roster.take_ready(11.0, "a2", free) is None


def test_a_leaving_operator_takes_no_new_call_and_the_pacer_forgets_them() -> None:
    roster = OperatorRoster()
    roster.join("1", "agent1", now=0.0)
    roster.take_ready(1.0, "a1")
    roster.get("1").leaving = True
    assert roster.loads(2.0) == ()
    roster.move("1", OperatorState.WRAP_UP, 3.0)
    roster.move("1", OperatorState.READY, 4.0)
    assert roster.take_ready(5.0, "a2") is None
