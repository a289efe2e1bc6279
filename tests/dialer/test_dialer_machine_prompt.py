"""A campaign's answering-machine message, end to end over TCP in virtual time: the campaign's
`machine_prompt` setting travels as the Originate variable CB_MACHINE_PROMPT, and pbx_sim's
[cb-dialer] (as deploy/asterisk/extensions_callboard.conf) plays it to the machine after its
greeting; a campaign that hangs up on machines sends no message. Plus the setting's checks."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from datetime import time as clock_time

import pytest

from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from ami_bridge.switch import ApplicationTarget, OriginateRequest
from crm_core.bus import InProcessBus
from crm_core.db import Database
from dialer.attempts import AttemptOutcome
from dialer.campaign import Campaign, CampaignError, CampaignState
from dialer.ledger import AttemptLedger
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings, Schedule, check_sound_name
from pbx_sim import FarEndProfile, Outcome, PbxSim, SimConfig, VirtualClock
from tests.dialer.breaker_support import START, seed

PROMPT = "custom/early-arrears"


class SimTime:
    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def monotonic(self) -> float:
        return self._clock.now()


@pytest.mark.parametrize("machine_action", ["leave_message", "hang_up"])
async def test_the_machine_message_reaches_the_machine(
    sqlite_db: Database, machine_action: str
) -> None:
    await seed(sqlite_db)
    vclock = VirtualClock(start=START.timestamp(), idle_grace=0.002)
    far_ends = FarEndProfile(per_number={}, weights={Outcome.MACHINE: 1.0}, answer_after=2.0)
    sim = PbxSim(SimConfig(far_ends=far_ends, seed=5), vclock)
    await sim.start()
    bus = InProcessBus()
    clock = SimTime(vclock)
    config = LinkConfig(
        port=sim.ami_port,
        username="callboard",
        secret="cbsecret",
        ping_interval=1.0,
        dead_after=5.0,
        action_timeout=5.0,
        connect_timeout=2.0,
    )
    bridge = AmiBridge(config, bus=bus, clock=clock, number_endpoint="Local/{number}@pstn-sim")
    await bridge.start()
    await bridge.link.wait_up(5.0)
    settings = CampaignSettings.from_dict(
        {
            "name": "demo",
            "schedule": {"zone": "America/New_York", "start": "00:00"},
            "ring_timeout_s": 20.0,
            "max_lines_per_agent": 2.0,
            "machine_action": machine_action,
            "machine_prompt": PROMPT,
        }
    )
    assert settings.schedule == Schedule(zone="America/New_York", start=clock_time(0, 0))
    dialer = CampaignDialer(
        Campaign(1, settings),
        db=sqlite_db,
        bus=bus,
        switch=bridge.switch,
        clock=clock,
        sleep=vclock.sleep,
        working=vclock.busy,
        wrap_up_s=10.0,
        tick_s=1.0,
    )
    run = asyncio.create_task(dialer.run())
    vclock.start()
    try:
        line = await bridge.switch.originate(
            OriginateRequest(
                endpoint="Local/agent1@cb-agent-phone",
                target=ApplicationTarget("ConfBridge", "agent1,cc_bridge,cc_agent"),
                variables={"AGENT_TALK_SECS": "20000"},
                ring_timeout=10.0,
            )
        )
        assert line.answered
        dialer.join_operator("agent1", "agent1", line=line.uniqueid)
        await dialer.move(CampaignState.RUNNING, "started by sup")
        real_start = time.monotonic()
        while True:  # until three machine calls are over on the PBX side
            assert time.monotonic() - real_start < 60, "no machine calls ended"
            assert not run.done(), run.exception()
            dialled = [o for o in sim.call_log.originates if "@pstn-sim" in o.channel]
            ended = [
                sim.call_log.calls[o.linkedid]
                for o in dialled
                if o.linkedid in sim.call_log.calls and not sim.call_log.calls[o.linkedid].active
            ]
            if len(ended) >= 3:
                break
            await asyncio.sleep(0.02)
        dialer.stop()
        async with asyncio.timeout(60):
            await run
    finally:
        await vclock.stop()
        await bridge.stop()
        await sim.stop()

    attempts = await AttemptLedger(sqlite_db).campaign_attempts(1, START)
    by_id = {a.attempt_id: a for a in attempts}
    for call in ended:
        assert call.amd_status == "MACHINE"
        assert by_id[call.linkedid].outcome is AttemptOutcome.MACHINE
    sent = [o.variables.get("CB_MACHINE_PROMPT") for o in dialled]
    if machine_action == "leave_message":
        assert set(sent) == {PROMPT}
        # played once on the customer leg (the far end's own greeting is in `played` too)
        assert all(call.played.count(PROMPT) == 1 for call in ended)
        # after the greeting and its beep (WaitForSilence), so the message lands on the tape
        assert all(call.played.index(PROMPT) > call.played.index("beep") for call in ended)
    else:  # hung up on: no message is asked for, none is played
        assert set(sent) == {None}
        assert all(PROMPT not in call.played for call in ended)


@pytest.mark.parametrize(
    "name",
    [
        "../../../etc/passwd",
        "/var/lib/asterisk/sounds/x",
        "custom/../x",
        "hello,world",
        "a|b",
        "a&b",
        "msg.wav",
        "with space",
        "line\nbreak",
        "",
        "x" * 81,
    ],
)
def test_a_machine_prompt_must_be_a_plain_sound_name(name: str) -> None:
    with pytest.raises(CampaignError, match="'machine_prompt' must be a sound file name"):
        CampaignSettings.from_dict({"name": "c", "machine_prompt": name or 0})
    with pytest.raises(ValueError):
        check_sound_name(name)


def test_the_settings_keep_the_prompt_and_the_recording_rule() -> None:
    settings = CampaignSettings.from_dict(
        {"name": "c", "machine_prompt": "cb-machine-message", "recording": "never"}
    )
    again = CampaignSettings.from_dict(settings.to_dict())
    assert (again.machine_prompt, again.recording) == ("cb-machine-message", "never")
    assert again.originate_variables("a1")["CB_MACHINE_PROMPT"] == "cb-machine-message"
    plain = CampaignSettings.from_dict({"name": "c"})
    assert (plain.machine_prompt, plain.recording) == ("", "always")
    assert "CB_MACHINE_PROMPT" not in plain.originate_variables("a1")
    with pytest.raises(CampaignError, match="'recording' must be one of always, never"):
        CampaignSettings.from_dict({"name": "c", "recording": "sometimes"})
