"""The operator's desk and the supervisor panel acting on a real Asterisk call: the card pushed
over the websocket, supervisor listen (ChanSpy), hold and resume, blind and attended transfer."""

from __future__ import annotations

from typing import Any

from ami_bridge.events import CallEnded, CallTransferred, SpyStarted
from crm_core.auth import hash_password
from crm_core.models import Interaction, Role, User
from tests.live.asterisk import HarnessAmi, LivePbx
from tests.live.node_support import KNOWN_NUMBER, NOW, Desk, Seeded, live_node

OPERATORS = {"olga": "Local/agent1@cb-agents", "petr": "Local/agent2@cb-agents"}


async def _supervisor(session: Any, seeded: Seeded) -> None:
    sam = User(
        username="sam",
        role=Role.SUPERVISOR,
        password_hash=hash_password("x"),
        endpoint="Local/sup1@cb-supervisor",
        created_at=NOW,
    )
    session.add(sam)
    await session.flush()
    # a supervisor listens to their own team's calls only (SECURITY.md): olga is in sam's team
    olga = await session.get(User, seeded.operators["olga"])
    olga.team_id = sam.id


def _caller_leg(linkedid: str) -> str:
    """The ;2 half of the test caller: the caller's channel as the PBX sees it."""
    return f"{linkedid}-2"


def _bridged_with(harness: HarnessAmi, uniqueid: str, prefix: str, since: int = 0):
    """A raw BridgeEnter of a channel named `prefix...` into the bridge `uniqueid` is in."""
    bridges = {
        m["BridgeUniqueid"]
        for m in harness.events[since:]
        if m.get("Event") == "BridgeEnter" and m.get("Uniqueid") == uniqueid
    }
    return lambda m: (
        m.get("Event") == "BridgeEnter"
        and m.get("Channel", "").startswith(prefix)
        and (m.get("BridgeUniqueid") in bridges or not bridges)
    )


async def test_listen_hold_resume_and_blind_transfer_from_the_desk(
    asterisk: LivePbx, harness: HarnessAmi, tmp_path
):
    async with live_node(asterisk, tmp_path, OPERATORS, extra=_supervisor) as live:
        olga = Desk(live.node)
        sam = Desk(live.node)
        try:
            await olga.sign_in("olga")
            await olga.open_socket()
            await olga.post("/desk/agent", {"action": "login"})
            await olga.next_of("agent", state="ready")
            agent = str(live.seeded.operators["olga"])

            linkedid = await harness.place_caller(number=KNOWN_NUMBER, hold_secs=90)
            offer = await olga.next_of("offer")
            assert offer["call"]["card"]["name"] == "Ivan Petrov"
            await olga.next_of("call", bridged=True)

            # supervisor listen: ChanSpy on the operator's leg
            await sam.sign_in("sam")
            mark = len(harness.events)
            await sam.post(f"/supervisor/agents/{agent}/listen")
            spy = await harness.wait_event(lambda m: m.get("Event") == "ChanSpyStart", since=mark)
            assert spy["SpyeeChannel"].startswith("Local/agent1@cb-agents")
            assert spy["SpyeeChannel"].endswith(";1")
            assert spy["SpyerChannel"].startswith("Local/sup1@cb-supervisor")
            await live.seen.until(SpyStarted, lambda e: e.linkedid == linkedid)

            # hold: the caller back on music; resume: the operator's phone is connected again
            mark = len(harness.events)
            await olga.post("/desk/call/hold")
            await harness.wait_event(
                lambda m: (
                    m.get("Event") == "MusicOnHoldStart"
                    and m.get("Uniqueid") == _caller_leg(linkedid)
                ),
                since=mark,
            )
            mark = len(harness.events)
            await olga.post("/desk/call/resume")
            await harness.wait_event(
                lambda m: (
                    m.get("Event") == "BridgeEnter"
                    and m.get("Channel", "").startswith("Local/agent1@cb-agents")
                ),
                since=mark,
            )

            # blind transfer to operator 2 (cb-xfer 2002 rings agent2)
            mark = len(harness.events)
            await olga.post("/desk/call/transfer", {"kind": "operator", "target": "2002"})
            await harness.wait_event(
                lambda m: (
                    m.get("Event") == "BridgeEnter"
                    and m.get("Channel", "").startswith("Local/agent2@cb-agents")
                ),
                since=mark,
            )
            # Asterisk sometimes sends the transferee's first Newexten in cb-xfer before the
            # BlindTransfer event; the tracker then reports that jump as a redirect first
            # (a known double report of one transfer), then the transfer itself.
            moved = await live.seen.until(
                CallTransferred, lambda e: e.linkedid == linkedid and str(e.kind) == "blind"
            )
            assert moved.target.endswith("2002"), moved.target
            assert moved.transferer is not None and moved.transferer.startswith(
                "Local/agent1@cb-agents"
            )

            await harness.action("Hangup", Channel=await _channel_of(harness, linkedid))
            await live.seen.until(CallEnded, lambda e: e.linkedid == linkedid)
            rows = await live.wait_rows(
                Interaction, lambda rows: any(r.linkedid == linkedid and r.ended_at for r in rows)
            )
            assert [r.linkedid for r in rows] == [linkedid], [(r.linkedid, r.queue) for r in rows]
            assert len(live.seen.all(CallEnded, lambda e: e.linkedid == linkedid)) == 1
        finally:
            await olga.close()
            await sam.close()


async def test_attended_transfer_from_the_desk(asterisk: LivePbx, harness: HarnessAmi, tmp_path):
    async with live_node(asterisk, tmp_path, OPERATORS) as live:
        olga = Desk(live.node)
        try:
            await olga.sign_in("olga")
            await olga.open_socket()
            await olga.post("/desk/agent", {"action": "login"})
            await olga.next_of("agent", state="ready")
            linkedid = await harness.place_caller(number=KNOWN_NUMBER, hold_secs=90)
            await olga.next_of("call", bridged=True)

            # consult operator 2 (Atxfer: DTMF *2 2002 on the operator's leg), then olga hangs
            # up and the caller is left talking to agent2
            mark = len(harness.events)
            await olga.post("/desk/call/consult", {"target": "2002"})
            await harness.wait_event(
                lambda m: (
                    m.get("Event") == "Newchannel"
                    and m.get("Channel", "").startswith("Local/agent2@cb-agents")
                ),
                since=mark,
                within_s=15,
            )
            # agent2 answers (AGENT_RING_SECS 1) and talks; the transferring leg hangs up
            await harness.wait_event(
                lambda m: (
                    m.get("Event") == "Newstate"
                    and m.get("Channel", "").startswith("Local/agent2@cb-agents")
                    and m.get("ChannelStateDesc") == "Up"
                ),
                since=mark,
            )
            # the consultation is up: the operator's consult call is bridged with the target
            await harness.wait_event(
                lambda m: (
                    m.get("Event") == "BridgeEnter"
                    and m.get("Channel", "").startswith("Local/2002@cb-xfer")
                    and m.get("Channel", "").endswith(";1")
                ),
                since=mark,
            )
            agent1 = next(
                c["Channel"]
                for c in await harness.channels()
                if c["Channel"].startswith("Local/agent1@cb-agents") and c["Channel"].endswith(";1")
            )
            await harness.action("Hangup", Channel=agent1)
            await harness.wait_event(
                lambda m: m.get("Event") == "AttendedTransfer" and m.get("Result") == "Success",
                since=mark,
            )
            moved = await live.seen.until(CallTransferred, lambda e: e.linkedid == linkedid)
            assert str(moved.kind) == "attended"
            assert moved.transferer is not None and moved.transferer.startswith(
                "Local/agent1@cb-agents"
            )
            assert "agent2" in moved.target, moved

            await harness.action("Hangup", Channel=await _channel_of(harness, linkedid))
            await live.seen.until(CallEnded, lambda e: e.linkedid == linkedid)
            assert len(live.seen.all(CallEnded, lambda e: e.linkedid == linkedid)) == 1
        finally:
            await olga.close()


async def _channel_of(harness: HarnessAmi, uniqueid: str) -> str:
    for c in await harness.channels():
        if c.get("Uniqueid") == uniqueid:
            return c["Channel"]
    raise AssertionError(f"no channel {uniqueid} on the PBX")
