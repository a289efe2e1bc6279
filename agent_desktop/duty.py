"""Taking an agent off duty: no more calls from the ACD or from any campaign's dialer.

Used when a user is deactivated, and when an operator signs out of their last session, so a
call never rings at an empty (or no longer authorised) desk.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from agent_desktop.keys import DesktopDeps
from routing.errors import RoutingError

log = logging.getLogger(__name__)


async def take_off_duty(deps: DesktopDeps, agent_id: str) -> None:
    """The agent takes no more calls: logged out of the ACD (paused if it refuses,
    e.g. mid-call) and taken off every running campaign's nailed-up roster."""
    if deps.acd is not None:
        try:
            await deps.acd.logout(agent_id)
        except RoutingError as exc:  # never logged in, or cannot leave the state it is in
            log.info("agent %s: ACD logout refused (%s); pausing", agent_id, exc)
            try:
                await deps.acd.pause(agent_id, "deactivated")
            except RoutingError:
                pass  # not known to the ACD at all: nothing to take off
    dialers = deps.dialer
    if isinstance(dialers, Mapping):
        for campaign_id, dialer in dialers.items():
            if dialer.remove_operator(agent_id):
                log.info("agent %s taken off campaign %s", agent_id, campaign_id)
