"""AMI list actions (resync after reconnect) and queue membership actions.

List items carry neither Privilege nor Timestamp; ActionID position differs per item type
(README behaviour 3): right after Event for CoreShowChannel/BridgeListItem/ConfbridgeList,
last for Status/QueueParams/QueueMember/QueueSummary.
"""

from __future__ import annotations

from pbx_sim.ami.framing import Action
from pbx_sim.ami.server import AmiServer, Session
from pbx_sim.channel import Channel
from pbx_sim.runtime import Runtime
from pbx_sim.world import QueueMember


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ListActions:
    def __init__(self, server: AmiServer, runtime: Runtime) -> None:
        self.server = server
        self.rt = runtime
        self.world = runtime.world
        for name in (
            "CoreShowChannels",
            "Status",
            "BridgeList",
            "BridgeInfo",
            "ConfbridgeList",
            "ConfbridgeListRooms",
            "QueueAdd",
            "QueueRemove",
            "QueuePause",
            "QueuePenalty",
            "QueueStatus",
            "QueueSummary",
        ):
            server.handlers[name.lower()] = getattr(self, name.lower())

    # -- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _aid_first(a: Action) -> list[tuple[str, str]]:
        return [("ActionID", a.action_id)] if a.action_id is not None else []

    def _start(self, s: Session, a: Action, message: str) -> None:
        s.respond(a, "Success", None, ("EventList", "start"), ("Message", message))

    def _complete(
        self, s: Session, a: Action, name: str, count: int, *extra: tuple[str, str]
    ) -> None:
        s.send(
            [
                ("Event", name),
                *self._aid_first(a),
                ("EventList", "Complete"),
                ("ListItems", str(count)),
                *extra,
            ]
        )

    def _app(self, ch: Channel) -> tuple[str, str]:
        if ch.bridge is not None and not ch.originated_app:
            return "", ""
        return ch.application, ch.app_data

    # -- channels and bridges ---------------------------------------------------------------
    async def coreshowchannels(self, s: Session, a: Action) -> None:
        self._start(s, a, "Channels will follow")
        channels = sorted(self.world.channels.values(), key=lambda c: c.created_at, reverse=True)
        now = self.world.clock.now()
        for ch in channels:
            app, data = self._app(ch)
            s.send(
                [
                    ("Event", "CoreShowChannel"),
                    *self._aid_first(a),
                    *ch.fields(),
                    ("Application", app),
                    ("ApplicationData", data),
                    ("Duration", _hms(now - ch.created_at)),
                    ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
                ]
            )
        self._complete(s, a, "CoreShowChannelsComplete", len(channels))

    async def status(self, s: Session, a: Action) -> None:
        name = a.get("Channel")
        if name and name.lower() != "all":
            ch = self.world.find(name)
            if ch is None:
                s.error(a, "No such channel")
                return
            channels = [ch]
        else:
            channels = list(self.world.channels.values())
        self._start(s, a, "Channel status will follow")
        wanted = [v.strip() for v in a.get("Variables").split(",") if v.strip()]
        now = self.world.clock.now()
        for ch in channels:
            app, data = self._app(ch)
            headers = [
                ("Event", "Status"),
                ("Privilege", "Call"),
                *ch.fields(),
                ("Type", "Local"),
                ("DNID", ""),
                ("EffectiveConnectedLineNum", ch.conn_num),
                ("EffectiveConnectedLineName", ch.conn_name),
                ("TimeToHangup", "0"),
                ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
                ("Application", app or "(null)"),
                ("Data", data or "(null)"),
                ("Nativeformats", "(slin)"),
                ("Readformat", "slin"),
                ("Readtrans", ""),
                ("Writeformat", "slin"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(int(now - ch.created_at))),
            ]
            headers += [("Variable", f"{v}={ch.variables.get(v, '')}") for v in wanted]
            if a.action_id is not None:
                headers.append(("ActionID", a.action_id))
            s.send(headers)
        self._complete(s, a, "StatusComplete", len(channels), ("Items", str(len(channels))))

    async def bridgelist(self, s: Session, a: Action) -> None:
        self._start(s, a, "Bridge listing will follow")
        bridges = list(self.world.bridges.values())
        for bridge in bridges:
            s.send([("Event", "BridgeListItem"), *self._aid_first(a), *bridge.fields()])
        self._complete(s, a, "BridgeListComplete", len(bridges))

    async def bridgeinfo(self, s: Session, a: Action) -> None:
        bridge = self.world.bridges.get(a.get("BridgeUniqueid"))
        if not a.get("BridgeUniqueid"):
            s.error(a, "Bridge identifier not provided")
            return
        if bridge is None:
            s.error(a, f"Bridge {a.get('BridgeUniqueid')} not found")
            return
        self._start(s, a, "Bridge channel listing will follow")
        for ch in bridge.members:
            s.send([("Event", "BridgeInfoChannel"), *self._aid_first(a), *ch.fields()])
        self._complete(s, a, "BridgeInfoComplete", len(bridge.members), *bridge.fields())

    async def confbridgelist(self, s: Session, a: Action) -> None:
        name = a.get("Conference")
        if not name:
            s.error(a, "No Conference name provided.")
            return
        bridge = self.world.conferences.get(name)
        if bridge is None:
            s.error(a, "No Conference by that name found.")
            return
        self._start(s, a, "Confbridge user list will follow")
        now = self.world.clock.now()
        for ch in bridge.members:
            admin = "Yes" if ch.originated_app == "ConfBridge" else "No"
            s.send(
                [
                    ("Event", "ConfbridgeList"),
                    *self._aid_first(a),
                    ("Conference", name),
                    ("Admin", admin),
                    ("MarkedUser", "No"),
                    ("WaitMarked", "No"),
                    ("EndMarked", "No"),
                    ("EndMarkedAny", "No"),
                    ("Waiting", "No"),
                    ("Muted", "No"),
                    ("Talking", "No"),
                    ("AnsweredTime", str(int(now - (ch.answered_at or now)))),
                    *ch.fields(),
                ]
            )
        self._complete(s, a, "ConfbridgeListComplete", len(bridge.members))

    async def confbridgelistrooms(self, s: Session, a: Action) -> None:
        rooms = list(self.world.conferences.values())
        if not rooms:
            s.error(a, "No active conferences.")
            return
        self._start(s, a, "Confbridge conferences will follow")
        for bridge in rooms:
            s.send(
                [
                    ("Event", "ConfbridgeListRooms"),
                    *self._aid_first(a),
                    ("Conference", bridge.conference),
                    ("Parties", str(len(bridge.members))),
                    ("Marked", "0"),
                    ("Locked", "No"),
                    ("Muted", "No"),
                ]
            )
        self._complete(s, a, "ConfbridgeListRoomsComplete", len(rooms))

    # -- queues -----------------------------------------------------------------------------
    def _member_fields(self, m: QueueMember, list_item: bool) -> list[tuple[str, str]]:
        names = (
            [("Name", m.member_name), ("Location", m.interface)]
            if list_item
            else [("MemberName", m.member_name), ("Interface", m.interface)]
        )
        fields = [
            ("Queue", m.queue),
            *names,
            ("StateInterface", m.state_interface),
            ("Membership", "dynamic"),
            ("Penalty", str(m.penalty)),
            ("CallsTaken", str(m.calls_taken)),
            ("LastCall", "0"),
            ("LastPause", str(m.last_pause)),
            ("LoginTime", str(m.login_time)),
            ("InCall", "0"),
            ("Status", self._device_status(m.state_interface)),
            ("Paused", "1" if m.paused else "0"),
            ("PausedReason", m.paused_reason),
        ]
        if not list_item:
            fields.append(("Ringinuse", "0"))
        return [*fields, ("Wrapuptime", "0")]

    def _device_status(self, device: str) -> str:
        """1 not in use, 2 in use (a live channel of that device), as QueueMember reports."""
        prefix = device + "-"
        in_use = any(name.startswith(prefix) for name in self.world.channels)
        return "2" if in_use else "1"

    def _find_member(self, queue: str, interface: str) -> QueueMember | None:
        return next((m for m in self.world.queues.get(queue, []) if m.interface == interface), None)

    async def queueadd(self, s: Session, a: Action) -> None:
        queue, interface = a.get("Queue"), a.get("Interface")
        if not queue:
            s.error(a, "'Queue' not specified.")
            return
        if not interface:
            s.error(a, "'Interface' not specified.")
            return
        if queue not in self.world.queues:
            s.error(a, "Unable to add interface to queue: No such queue")
            return
        if self._find_member(queue, interface) is not None:
            s.error(a, "Unable to add interface: Already there")
            return
        paused = a.get("Paused").lower() in ("true", "yes", "1")
        member = QueueMember(
            queue,
            interface,
            a.get("MemberName") or interface,
            a.get("StateInterface") or interface,
            int(a.get("Penalty") or 0),
            paused,
            paused_reason=a.get("Reason") if paused else "",
            login_time=int(self.world.clock.now()),
        )
        self.world.queues[queue].append(member)
        s.respond(a, "Success", "Added interface to queue")
        self.world.device_state(
            f"Queue:{queue}_pause_{interface}", "INUSE" if paused else "NOT_INUSE"
        )
        self.world.emit("QueueMemberAdded", "agent,all", self._member_fields(member, False))
        self.world.device_state(f"Queue:{queue}_avail", "INUSE" if paused else "NOT_INUSE")

    async def queueremove(self, s: Session, a: Action) -> None:
        queue, interface = a.get("Queue"), a.get("Interface")
        if not queue or not interface:
            s.error(a, "Need 'Queue' and 'Interface' parameters.")
            return
        member = self._find_member(queue, interface)
        if member is None:
            s.error(
                a,
                "Unable to remove interface: Not there"
                if queue in self.world.queues
                else "Unable to remove interface from queue: No such queue",
            )
            return
        self.world.queues[queue].remove(member)
        s.respond(a, "Success", "Removed interface from queue")
        self.world.emit("QueueMemberRemoved", "agent,all", self._member_fields(member, False))

    async def queuepause(self, s: Session, a: Action) -> None:
        interface = a.get("Interface")
        if not interface:
            s.error(a, "Need 'Interface' and 'Paused' parameters.")
            return
        paused = a.get("Paused").lower() in ("true", "yes", "1")
        queues = [a.get("Queue")] if a.get("Queue") else list(self.world.queues)
        members = [m for q in queues if (m := self._find_member(q, interface)) is not None]
        if not members:
            s.error(a, "Interface not found")
            return
        s.respond(
            a,
            "Success",
            "Interface paused successfully" if paused else "Interface unpaused successfully",
        )
        for m in members:
            m.paused, m.paused_reason = paused, a.get("Reason") if paused else ""
            m.last_pause = int(self.world.clock.now()) if paused else m.last_pause
            self.world.emit("QueueMemberPause", "agent,all", self._member_fields(m, False))

    async def queuepenalty(self, s: Session, a: Action) -> None:
        interface, penalty = a.get("Interface"), a.get("Penalty")
        if not interface or not penalty.isdigit():
            s.error(a, "Need 'Interface' and 'Penalty' parameters.")
            return
        queues = [a.get("Queue")] if a.get("Queue") else list(self.world.queues)
        members = [m for q in queues if (m := self._find_member(q, interface)) is not None]
        if not members:
            s.error(a, "Invalid interface, queuename or penalty")
            return
        s.respond(a, "Success", "Interface penalty set successfully")
        for m in members:
            m.penalty = int(penalty)
            self.world.emit("QueueMemberPenalty", "agent,all", self._member_fields(m, False))

    async def queuestatus(self, s: Session, a: Action) -> None:
        self._start(s, a, "Queue status will follow")
        wanted_queue, wanted_member = a.get("Queue"), a.get("Member")
        count = 0
        aid = [("ActionID", a.action_id)] if a.action_id is not None else []
        for queue, members in self.world.queues.items():
            if wanted_queue and queue != wanted_queue:
                continue
            s.send(
                [
                    ("Event", "QueueParams"),
                    ("Queue", queue),
                    ("Max", "0"),
                    ("Strategy", "rrmemory"),
                    ("Calls", "0"),
                    ("Holdtime", "0"),
                    ("TalkTime", "0"),
                    ("Completed", "0"),
                    ("Abandoned", "0"),
                    ("ServiceLevel", "30"),
                    ("ServicelevelPerf", "0.0"),
                    ("ServicelevelPerf2", "0.0"),
                    ("Weight", "0"),
                    *aid,
                ]
            )
            count += 1
            for m in members:
                if wanted_member and m.interface != wanted_member:
                    continue
                s.send([("Event", "QueueMember"), *self._member_fields(m, True), *aid])
                count += 1
        self._complete(s, a, "QueueStatusComplete", count)

    async def queuesummary(self, s: Session, a: Action) -> None:
        self._start(s, a, "Queue summary will follow")
        aid = [("ActionID", a.action_id)] if a.action_id is not None else []
        count = 0
        for queue, members in self.world.queues.items():
            if a.get("Queue") and queue != a.get("Queue"):
                continue
            available = sum(1 for m in members if not m.paused)
            s.send(
                [
                    ("Event", "QueueSummary"),
                    ("Queue", queue),
                    ("LoggedIn", str(len(members))),
                    ("Available", str(available)),
                    ("Callers", "0"),
                    ("HoldTime", "0"),
                    ("TalkTime", "0"),
                    ("LongestHoldTime", "0"),
                    *aid,
                ]
            )
            count += 1
        self._complete(s, a, "QueueSummaryComplete", count)
