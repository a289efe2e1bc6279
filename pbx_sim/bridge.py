"""Bridges (two-party `basic` and ConfBridge conferences) as Asterisk reports them."""

from __future__ import annotations

from dataclasses import dataclass, field

from pbx_sim.channel import Channel


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    bridge_type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = "<unknown>"
    bridge_name: str = "<unknown>"
    conference: str = ""  # ConfBridge name, "" for a basic bridge
    announcer: str = ""  # ConfBridge announcer channel (CBAnn/...;2), seen only in BRIDGEPEER
    members: list[Channel] = field(default_factory=list)
    created_at: float = 0.0

    def fields(self, prefix: str = "") -> list[tuple[str, str]]:
        return [
            (f"{prefix}BridgeUniqueid", self.uniqueid),
            (f"{prefix}BridgeType", self.bridge_type),
            (f"{prefix}BridgeTechnology", self.technology),
            (f"{prefix}BridgeCreator", self.creator),
            (f"{prefix}BridgeName", self.bridge_name),
            (f"{prefix}BridgeNumChannels", str(len(self.members) + (1 if self.announcer else 0))),
            (f"{prefix}BridgeVideoSourceMode", "none"),
        ]

    def others(self, channel: Channel) -> list[Channel]:
        return [member for member in self.members if member is not channel]
