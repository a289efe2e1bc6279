"""Hangup causes: Q.850 codes as Asterisk reports them in `Hangup`/`HangupRequest` `Cause`.

`SoftHangupRequest.Cause` is a different thing (Asterisk's AST_SOFTHANGUP_* flags: 4 shutdown,
16 the application finished, 32 explicit), so it is never looked up here.
"""

from __future__ import annotations

NORMAL_CLEARING = 16
USER_BUSY = 17
NO_ANSWER = 19
CALL_REJECTED = 21
ANSWERED_ELSEWHERE = 26
CONGESTION = 34
UNKNOWN = 0

# Texts as Asterisk's ast_cause2str() spells them, so logs match the PBX's own `Cause-txt`.
Q850_TEXT: dict[int, str] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    2: "No route to specified transmit network",
    3: "No route to destination",
    6: "Channel unacceptable",
    7: "Call awarded and being delivered in an established channel",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    22: "Number changed",
    23: "Redirected to new destination",
    26: "Answered elsewhere",  # Asterisk's AST_CAUSE_ANSWERED_ELSEWHERE (Q.850: non-selected)
    27: "Destination out of order",
    28: "Invalid number format (incomplete number)",
    29: "Facility rejected",
    30: "Response to STATus ENQuiry",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    43: "Access information discarded",
    44: "Requested channel not available",
    50: "Requested facility not subscribed",
    52: "Outgoing call barred",
    54: "Incoming call barred",
    57: "Bearer capability not authorized",
    58: "Bearer capability not presently available",
    65: "Bearer capability not implemented",
    66: "Channel type not implemented",
    69: "Requested facility not implemented",
    81: "Invalid call reference value",
    88: "Incompatible destination",
    95: "Invalid message unspecified",
    96: "Mandatory information element is missing",
    97: "Message type nonexist.",
    98: "Wrong message",
    99: "Info. element nonexist or not implemented",
    100: "Invalid information element contents",
    101: "Message not compatible with call state",
    102: "Recover on timer expiry",
    103: "Mandatory IE length error",
    111: "Protocol error, unspecified",
    127: "Interworking, unspecified",
}


def cause_text(cause: int) -> str:
    return Q850_TEXT.get(cause, f"Q.850 cause {cause}")


def parse_cause(raw: str | None) -> int:
    """The `Cause` header as an int; a missing or garbled value counts as 0 (Unknown)."""
    if not raw:
        return UNKNOWN
    try:
        return int(raw)
    except ValueError:
        return UNKNOWN
