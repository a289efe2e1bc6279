"""The list actions a client uses to resync after reconnecting (trace 02)."""

from __future__ import annotations

from pbx_sim import PbxSim, VirtualClock
from pbx_sim.testing import AmiClient, read_trace


async def test_list_actions_have_the_shapes_of_trace_02(
    sim: PbxSim, client: AmiClient, clock: VirtualClock
) -> None:
    trace = read_trace("02-resync.ami")
    for block in trace.sent("A"):
        if block.get("Action") == "Originate" and "incoming-direct" in block.get("Channel"):
            continue  # Queue() is not simulated: Callboard is the ACD
        if block.get("Action") in ("Originate", "QueueAdd"):
            await client.action(block.headers)
            await clock.advance(3.0)
    await client.wait_for(
        lambda m: (
            m.get("Event") == "BridgeEnter" and m.get("Channel", "").startswith("Local/agent1")
        )
    )
    bridge_id = next(e["BridgeUniqueid"] for e in client.events() if e["Event"] == "BridgeEnter")

    resync = await AmiClient.connect(sim.ami_port)
    try:
        await resync.login()
        traced_bridge = "ee6ad427-43bb-4de2-8fd4-7e7b9671666b"
        for block in trace.sent("B"):
            if block.get("Action") in ("Login", "Logoff"):
                continue
            headers = [(k, bridge_id if v == traced_bridge else v) for k, v in block.headers]
            resync.send(headers)
        await resync.wait_for(lambda m: m.get("Event") == "BridgeInfoComplete")

        shapes: dict[str, set[tuple[str, ...]]] = {}
        for b in trace.received("B"):
            kind = b.event or f"Response {b.get('Response')}"
            shapes.setdefault(kind, set()).add(tuple(k for k, _ in b.headers))
        kinds = set()
        for message in resync.messages[3:]:  # after login reply, FullyBooted, SuccessfulAuth
            m = dict(message)
            kind = m.get("Event") or f"Response {m.get('Response')}"
            assert tuple(k for k, _ in message) in shapes[kind], kind
            kinds.add(kind)
        assert {
            "CoreShowChannel",
            "Status",
            "QueueParams",
            "QueueMember",
            "QueueSummary",
            "BridgeListItem",
            "BridgeInfoChannel",
            "BridgeInfoComplete",
        } <= kinds

        caller = "Local/100@cb-hold-00000000;2"
        shown = next(
            dict(m)
            for m in resync.messages
            if dict(m).get("Event") == "CoreShowChannel" and dict(m)["Channel"] == caller
        )
        assert (shown["Priority"], shown["Application"], shown["BridgeId"]) == ("4", "", bridge_id)
        status = [
            m
            for m in resync.messages
            if dict(m).get("Event") == "Status" and dict(m).get("ActionID") == "b-4"
        ]
        assert [v for k, v in status[0] if k == "Variable"] == [
            "HOLD_SECS=300",
            "BRIDGEPEER=Local/agent1@cb-agents-00000001;1",
        ]
        assert dict(status[0])["Application"] == "(null)"
        member = next(dict(m) for m in resync.messages if dict(m).get("Event") == "QueueMember")
        assert (member["Paused"], member["PausedReason"]) == ("1", "outbound-only")
    finally:
        await resync.close()
