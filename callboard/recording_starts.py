"""Starts a recording whenever a call reaches an operator, inbound or outbound.

recordings may not import routing or dialer, so the composition root tells it: routing's
CallConnected for queue calls, the dialer's AttemptResolved with an operator for campaign calls.
The debtor's own channel is recorded (it stays in the call across transfers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ami_bridge.errors import AmiError
from ami_bridge.tracker import CallTracker
from crm_core.bus import Bus, Overflow
from crm_core.logcontext import log_context
from dialer.events import AttemptResolved
from recordings.control import RecordingControl
from routing.events import CallConnected

log = logging.getLogger(__name__)


async def start_recordings(
    bus: Bus,
    tracker: CallTracker,
    control: RecordingControl,
    campaigns: dict[int, str],
    campaign_recording: Callable[[int], str | None] = lambda campaign_id: None,
) -> None:
    """Runs until cancelled; `campaigns` maps campaign ids to names (the recording rules' keys),
    `campaign_recording` gives a campaign's own rule (its settings' `recording`) when its call
    connects. A queue's own rule is read by the control from the stored queue."""
    events = bus.subscribe(
        "recording-starts",
        CallConnected,
        AttemptResolved,
        maxsize=10_000,
        overflow=Overflow.DROP_NEWEST,
    )
    try:
        async for event in events:
            if isinstance(event, CallConnected):
                linkedid, queue, campaign, agent = event.linkedid, event.queue, "", event.agent_id
                campaign_mode = None
            elif isinstance(event, AttemptResolved) and event.agent_id and not event.abandoned:
                linkedid, queue, agent = event.attempt_id, "", event.agent_id
                campaign = campaigns.get(event.campaign_id, "")
                campaign_mode = campaign_recording(event.campaign_id)
            else:
                continue
            with log_context(linkedid=linkedid, agent=agent, campaign=campaign):
                channel = tracker.caller_channel(linkedid)
                if channel is None:
                    log.warning("no debtor channel to record")
                    continue
                try:
                    await control.call_connected(
                        linkedid=linkedid,
                        channel=channel,
                        queue=queue,
                        campaign=campaign,
                        agent=agent,
                        campaign_mode=campaign_mode,
                    )
                except AmiError as exc:  # the call goes on unrecorded; supervisors see the alert
                    log.error("recording not started: %s", exc)
    finally:
        bus.unsubscribe(events)
