"""An outbound campaign on a real Asterisk through the kit's Local variant: E.164 numbers dialled
as Local/{number}@pstn-sim, AMD in cb-dialer, a person moved into the nailed-up operator's
conference with the card popped, and the attempt ledger telling each outcome."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ami_bridge.switch import ApplicationTarget, OriginateRequest
from crm_core.models import Contact, ContactPhone, Debt, Interaction, Phone
from dialer.campaign import CampaignState
from dialer.tables import CampaignRow, DialAttemptRow
from recordings.tables import Recording, RecordingStatus
from routing.events import AgentOffered
from tests.live.asterisk import HarnessAmi, LivePbx
from tests.live.node_support import Seeded, live_node

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
CAMPAIGN = "live-e164"
# number -> (time zone, what [pstn-sim] does with it: its last 7 digits), expected outcome
NUMBERS = {
    "+447700900123": ("Europe/London", "human"),  # any other number: a person says hello
    "+74955550777": ("Europe/Moscow", "machine"),  # vm-intro greeting
    "+12125550486": ("America/New_York", "busy"),
    "+442075550408": ("Europe/London", "no_answer"),  # rings forever
    "+74955550503": ("Europe/Moscow", "congestion"),
    "+13105550404": ("America/Los_Angeles", "rejected"),  # Hangup(21) before ringing
}


async def _campaign(session: Any, seeded: Seeded) -> None:
    for i, (number, (zone, _)) in enumerate(NUMBERS.items()):
        contact = Contact(
            first_name=f"Debtor{i}",
            last_name="Live",
            timezone=zone,
            created_at=NOW,
            updated_at=NOW,
        )
        phone = Phone(e164=number, raw=number)
        session.add_all([contact, phone])
        await session.flush()
        session.add(ContactPhone(contact_id=contact.id, phone_id=phone.id, is_primary=True))
        session.add(
            Debt(
                contact_id=contact.id,
                creditor="Live Bank",
                reference=f"LIVE-{i}",
                principal=Decimal("100"),
                balance=Decimal("100"),
                due_date=date(2026, 8, 1),
                created_at=NOW,
            )
        )
    session.add(
        CampaignRow(
            name=CAMPAIGN,
            state="stopped",
            settings={
                "dial_mode": "predictive",
                "max_lines_per_agent": 3.0,
                "ring_timeout_s": 6.0,
                "operators": [str(seeded.operators["olga"])],
                "filter": {"creditors": ["Live Bank"]},
                "schedule": {
                    "zone": "UTC",
                    "days": list(range(7)),
                    "start": "00:00",
                    "end": "23:59",
                },
                # the test must not depend on the hour it runs at: dial around the clock
                "compliance": {"calling_from": "00:00", "calling_until": "23:59"},
            },
            created_at=NOW,
            updated_at=NOW,
        )
    )


async def test_an_e164_campaign_through_the_kit(asterisk: LivePbx, harness: HarnessAmi, tmp_path):
    await harness.set_global("REMOTE_TALK_SECS", "8")  # the person stays to talk to the operator
    try:
        async with live_node(asterisk, tmp_path, extra=_campaign) as live:
            node = live.node
            [dialer] = node.dialers.values()
            agent = str(live.seeded.operators["olga"])
            # the operator's nailed-up line, as the product nails it up (callboard/demo.py)
            line = await node.bridge.switch.originate(
                OriginateRequest(
                    endpoint="Local/agent1@cb-agent-phone",
                    target=ApplicationTarget("ConfBridge", "agent1,cc_bridge,cc_agent"),
                    variables={"AGENT_TALK_SECS": "600"},
                    ring_timeout=10.0,
                )
            )
            assert line.answered, line
            dialer.join_operator(agent, "agent1", line=line.uniqueid)
            await dialer.move(CampaignState.RUNNING, "live test")

            rows = await live.wait_rows(
                DialAttemptRow,
                lambda rows: {r.phone for r in rows if r.outcome and r.ended_at} >= set(NUMBERS),
                within_s=90,
            )
            await dialer.move(CampaignState.PAUSED, "live test done")
            first = {}
            for row in sorted(rows, key=lambda r: r.started_at):
                first.setdefault(row.phone, row)
            outcomes = {phone: row.outcome for phone, row in first.items()}
            assert outcomes == {n: want for n, (_, want) in NUMBERS.items()}, outcomes

            person = first["+447700900123"]
            assert person.answered_at is not None and not person.abandoned
            assert person.agent_id == agent
            assert person.hangup_cause == 16, person.hangup_cause
            for phone in ("+12125550486", "+442075550408", "+74955550503", "+13105550404"):
                assert first[phone].answered_at is None and first[phone].agent_id is None
            assert first["+12125550486"].hangup_cause == 17
            assert first["+74955550503"].hangup_cause == 34

            # the person reached the operator's conference, and the card came with them
            offered = await live.seen.until(AgentOffered, lambda e: e.linkedid == person.attempt_id)
            assert offered.agent_id == agent and offered.card is not None
            assert offered.card["name"] == "Debtor0 Live"
            await harness.wait_event(
                lambda m: (
                    m.get("Event") == "ConfbridgeJoin"
                    and m.get("Conference") == "agent1"
                    and m.get("Channel", "").startswith("Local/+447700900123@pstn-sim")
                ),
            )

            # one interaction per call the dialer placed, none for Local halves or failures
            interactions = await live.wait_rows(
                Interaction,
                lambda rows: any(
                    r.linkedid == person.attempt_id and r.ended_at is not None for r in rows
                ),
            )
            attempt_ids = {r.attempt_id for r in rows}
            ghosts = [(i.linkedid, i.caller_number) for i in interactions]
            assert all(i.linkedid in attempt_ids for i in interactions), ghosts
            assert len({i.linkedid for i in interactions}) == len(interactions), ghosts
            talk = next(i for i in interactions if i.linkedid == person.attempt_id)
            assert talk.direction == "outbound"
            assert talk.campaign == CAMPAIGN
            assert talk.agent_id == int(agent)

            # the conversation was recorded on the debtor's leg, with audio in it
            [rec] = await live.wait_rows(
                Recording,
                lambda rows: bool(rows) and rows[0].status is not RecordingStatus.RECORDING,
                within_s=30,
                linkedid=person.attempt_id,
            )
            assert rec.status is RecordingStatus.STORED, (rec.channel, rec.problem)
            assert rec.channel.startswith("Local/+447700900123@pstn-sim-")
            assert rec.channel.endswith(";1"), rec.channel  # the customer leg, not the far end
            assert rec.duration_s > 3
            assert talk.contact_id is not None, (talk.debt_id, talk.caller_number)
    finally:
        await harness.set_global("REMOTE_TALK_SECS", "")
