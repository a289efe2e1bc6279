"""The states an ACD agent moves through, and which moves are allowed.

Kept apart from the state machine so that events (and desktop/report code) can name states
without importing the routing core.
"""

from __future__ import annotations

import enum


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"  # not taking calls, with a reason code (break, lunch, training, rona, ...)
    RESERVED = "reserved"  # chosen for a call; the card is being pushed, the phone not ringing yet
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # after-call work, timed and extendable


S = AgentState

ALLOWED: dict[AgentState, frozenset[AgentState]] = {
    S.LOGGED_OUT: frozenset({S.READY, S.PAUSED}),
    S.READY: frozenset({S.PAUSED, S.RESERVED, S.LOGGED_OUT}),
    S.PAUSED: frozenset({S.READY, S.PAUSED, S.LOGGED_OUT}),  # paused -> paused: new reason
    # an offer can fail before the phone rings (originate refused): back to ready or paused.
    # No logging out while a call is offered or connected: the call must be finished first.
    S.RESERVED: frozenset({S.RINGING, S.READY, S.PAUSED}),
    # no answer / busy -> paused 'rona'; the caller hung up while ringing -> ready
    S.RINGING: frozenset({S.ON_CALL, S.PAUSED, S.READY}),
    S.ON_CALL: frozenset({S.WRAP_UP}),
    S.WRAP_UP: frozenset({S.READY, S.PAUSED, S.LOGGED_OUT}),
}

# states in which the agent is handling (or about to handle) a call
BUSY_STATES = frozenset({S.RESERVED, S.RINGING, S.ON_CALL, S.WRAP_UP})
