"""AMI users and classes as Asterisk 22's manager.conf has them.

A user has a secret, `read` classes (which events it receives) and `write` classes (which
actions it may send). Asterisk allows an action when the user holds ANY ONE of the classes the
action is registered with (none needed for Login, Ping, QueueStatus, ...), else it answers
`Response: Error` / `Message: Permission denied` and other sessions with `security` read get a
`RequestNotAllowed` event. An event reaches a session only if the user reads its class.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSES = frozenset(
    {
        "system",
        "call",
        "log",
        "verbose",
        "command",
        "agent",
        "user",
        "config",
        "dtmf",
        "reporting",
        "cdr",
        "dialplan",
        "originate",
        "agi",
        "cc",
        "aoc",
        "test",
        "security",
        "message",
    }
)


def parse_classes(text: str) -> frozenset[str]:
    """`read =` / `write =` of manager.conf: class names separated by commas; `all` is every
    class, `none` (or nothing) no class."""
    names = {c.strip().lower() for c in text.split(",") if c.strip()}
    if "all" in names:
        return CLASSES
    return frozenset(names & CLASSES)


@dataclass(frozen=True, slots=True)
class AmiUser:
    """One manager.conf user."""

    secret: str
    read: frozenset[str] = CLASSES
    write: frozenset[str] = CLASSES

    @classmethod
    def of(cls, secret: str, read: str = "all", write: str = "all") -> AmiUser:
        return cls(secret, parse_classes(read), parse_classes(write))

    def may_send(self, action: str) -> bool:
        needed = WRITE_CLASSES.get(action.lower(), UNLISTED)
        return not needed or bool(needed & self.write)

    def reads(self, privilege: str) -> bool:
        """Whether an event with this `Privilege:` header reaches the user."""
        classes = {c for c in privilege.split(",") if c and c != "all"}
        return classes <= self.read


# The write classes of deploy/asterisk/manager_callboard.conf (the AMI user Callboard ships);
# tests/pbx_sim checks they are the file's. Use KIT_USER for the product's tests and the demo,
# so that a class the kit lacks shows up as "Permission denied" there, as on a real PBX.
KIT_READ = "system,call,dialplan,user,agent,dtmf"
KIT_WRITE = "system,call,originate,agent"


def kit_user(secret: str) -> AmiUser:
    return AmiUser.of(secret, KIT_READ, KIT_WRITE)


UNLISTED = frozenset({"(unlisted)"})  # an action missing below: only a user with `all` may send it

# Asterisk 22.10.1's write classes of the actions pbx_sim implements and their neighbours
# (from ../shared/asterisk/ami-action-write-classes.tsv; an empty set: no class needed).
WRITE_CLASSES: dict[str, frozenset[str]] = {
    name.lower(): frozenset(c.lower() for c in classes.split("|")) if classes else frozenset()
    for name, classes in {
        "Login": "",
        "Logoff": "",
        "Challenge": "",
        "Ping": "",
        "Events": "",
        "ListCommands": "",
        "WaitEvent": "",
        "Originate": "ORIGINATE",
        "Redirect": "CALL",
        "Hangup": "SYSTEM|CALL",
        "PlayDTMF": "CALL",
        "Setvar": "CALL",
        "Getvar": "CALL|REPORTING",
        "UserEvent": "USER",
        "Command": "COMMAND",
        "Status": "SYSTEM|CALL|REPORTING",
        "CoreShowChannels": "SYSTEM|REPORTING",
        "CoreStatus": "SYSTEM|REPORTING",
        "CoreSettings": "SYSTEM|REPORTING",
        "BridgeList": "",
        "BridgeInfo": "",
        "BridgeKick": "",
        "BridgeDestroy": "",
        "Bridge": "CALL",
        "ConfbridgeList": "REPORTING",
        "ConfbridgeListRooms": "REPORTING",
        "ConfbridgeKick": "CALL",
        "ConfbridgeMute": "CALL",
        "ConfbridgeUnmute": "CALL",
        "QueueAdd": "AGENT",
        "QueueRemove": "AGENT",
        "QueuePause": "AGENT",
        "QueuePenalty": "AGENT",
        "QueueLog": "AGENT",
        "QueueStatus": "",
        "QueueSummary": "",
        "MixMonitor": "SYSTEM",
        "StopMixMonitor": "SYSTEM|CALL",
        "MixMonitorMute": "SYSTEM|CALL",
        "BlindTransfer": "CALL",
        "Atxfer": "CALL",
        "CancelAtxfer": "CALL",
        "Park": "CALL",
        "AbsoluteTimeout": "SYSTEM|CALL",
        "LocalOptimizeAway": "SYSTEM|CALL",
        "SendText": "CALL",
        "DeviceStateList": "CALL|REPORTING",
        "ExtensionState": "CALL|REPORTING",
        "ModuleCheck": "SYSTEM",
        "ModuleLoad": "SYSTEM",
        "Reload": "CONFIG|SYSTEM",
    }.items()
}
