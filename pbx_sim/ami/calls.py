"""AMI call-control actions: Originate, Redirect, Hangup, PlayDTMF, variables, transfers."""

from __future__ import annotations

import re

from pbx_sim.ami.framing import Action
from pbx_sim.ami.server import AmiServer, Session
from pbx_sim.channel import Interrupt, Signal
from pbx_sim.dialplan import substitute
from pbx_sim.local import OriginateRequest, OriginateResult, originate
from pbx_sim.runtime import Runtime

_CALLERID = re.compile(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$')


def parse_callerid(text: str) -> tuple[str, str] | None:
    if not text:
        return None
    match = _CALLERID.match(text)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    return ("", text.strip()) if text.strip().isdigit() else (text.strip(), "")


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("true", "yes", "1", "on", "y", "t")


class CallActions:
    def __init__(self, server: AmiServer, runtime: Runtime) -> None:
        self.server = server
        self.rt = runtime
        for name in (
            "Ping",
            "Originate",
            "Redirect",
            "Hangup",
            "PlayDTMF",
            "Setvar",
            "Getvar",
            "UserEvent",
            "Command",
        ):
            server.handlers[name.lower()] = getattr(self, name.lower())

    async def ping(self, s: Session, a: Action) -> None:
        s.respond(
            a, "Success", None, ("Ping", "Pong"), ("Timestamp", f"{self.server.clock.now():.6f}")
        )

    async def originate(self, s: Session, a: Action) -> None:
        if not a.get("Channel"):
            s.error(a, "Channel not specified")
            return
        if not a.get("Application") and not a.get("Exten"):
            s.error(a, "Exten not specified")
            return
        variables = []
        for raw in a.getall("Variable"):
            for item in raw.split(","):
                name, sep, value = item.partition("=")
                if sep:
                    variables.append((name.strip(), value))
        timeout_ms = a.get("Timeout", "30000")
        req = OriginateRequest(
            channel=a.get("Channel"),
            context=a.get("Context", "default"),
            exten=a.get("Exten", "s"),
            priority=int(a.get("Priority", "1") or 1) if a.get("Priority", "1").isdigit() else 1,
            application=a.get("Application"),
            data=a.get("Data"),
            callerid=parse_callerid(a.get("CallerID")),
            variables=variables,
            timeout=int(timeout_ms) / 1000 if timeout_ms.isdigit() else 30.0,
            channel_id=a.get("ChannelId"),
            other_channel_id=a.get("OtherChannelId"),
            action_id=a.action_id,
        )
        if _truthy(a.get("Async")):
            s.respond(a, "Success", "Originate successfully queued")
            self.rt.spawn(self._async_originate(req), f"originate {req.channel}")
            return
        s.hold_events()  # a synchronous Originate blocks the session; events come after
        try:
            result = await originate(self.rt, req)
        except BaseException:
            s.release_events()
            raise
        if result.success:
            s.respond(a, "Success", "Originate successfully queued")
        else:
            s.respond(a, "Error", "Originate failed")
        s.release_events()

    async def _async_originate(self, req: OriginateRequest) -> None:
        result = await originate(self.rt, req)
        self._originate_response(req, result)

    def _originate_response(self, req: OriginateRequest, result: OriginateResult) -> None:
        fields: list[tuple[str, str]] = []
        if req.action_id is not None:
            fields.append(("ActionID", req.action_id))
        channel = result.channel
        fields += [
            ("Response", "Success" if result.success else "Failure"),
            ("Channel", channel.name if channel else req.channel),
        ]
        if req.application:
            fields += [("Application", req.application), ("Data", req.data)]
        else:
            fields += [("Context", req.context), ("Exten", req.exten)]
        uniqueid = channel.uniqueid if channel else (req.channel_id or "<unknown>")
        name, number = req.callerid or ("", "")
        fields += [
            ("Reason", str(result.reason)),
            ("Uniqueid", uniqueid),
            ("CallerIDNum", number or "<unknown>"),
            ("CallerIDName", name or "<unknown>"),
        ]
        self.rt.world.emit("OriginateResponse", "call,all", fields)

    async def redirect(self, s: Session, a: Action) -> None:
        name = a.get("Channel")
        if not name:
            s.error(a, "Channel not specified")
            return
        if not a.get("Exten"):
            s.error(a, "Exten not specified")
            return
        ch = self.rt.world.find(name)
        if ch is None:
            s.error(a, f"Channel does not exist: {name}")
            return
        extra_name = a.get("ExtraChannel")
        extra = self.rt.world.find(extra_name) if extra_name else None
        if extra_name and extra is None:
            s.error(a, f"ExtraChannel does not exist: {extra_name}")
            return
        priority = int(a.get("Priority", "1")) if a.get("Priority", "1").isdigit() else 1
        ch.interrupt(
            Interrupt(
                Signal.REDIRECT,
                context=a.get("Context", ch.context),
                exten=a.get("Exten"),
                priority=priority,
            )
        )
        if extra is not None:
            extra.interrupt(
                Interrupt(
                    Signal.REDIRECT,
                    context=a.get("ExtraContext") or a.get("Context", extra.context),
                    exten=a.get("ExtraExten") or a.get("Exten"),
                    priority=int(a.get("ExtraPriority") or priority),
                )
            )
            s.respond(a, "Success", "Dual Redirect successful")
            return
        s.respond(a, "Success", "Redirect successful")

    async def hangup(self, s: Session, a: Action) -> None:
        name = a.get("Channel")
        if not name:
            s.error(a, "No channel specified")
            return
        cause_text = a.get("Cause")
        cause = int(cause_text) if cause_text.isdigit() else 0
        if name.startswith("/") and name.endswith("/") and len(name) > 1:
            pattern = re.compile(name[1:-1])
            s.respond(a, "Success", "Channels hung up will follow", ("EventList", "start"))
            matched = [c for c in self.rt.world.channels.values() if pattern.search(c.name)]
            for ch in matched:
                ch.interrupt(Interrupt(Signal.HANGUP, cause=cause))
                items = [
                    ("Event", "ChannelHungup"),
                    ("ActionID", a.action_id or ""),
                    ("Channel", ch.name),
                ]
                s.send([item for item in items if item[0] != "ActionID" or a.action_id])
            done = [("Event", "ChannelsHungupListComplete")]
            if a.action_id is not None:
                done.append(("ActionID", a.action_id))
            s.send([*done, ("EventList", "Complete"), ("ListItems", str(len(matched)))])
            return
        target = self.rt.world.find(name)
        if target is None:
            s.error(a, "No such channel")
            return
        s.respond(a, "Success", "Channel Hungup")
        target.interrupt(Interrupt(Signal.HANGUP, cause=cause))

    async def playdtmf(self, s: Session, a: Action) -> None:
        ch = self.rt.world.find(a.get("Channel"))
        digit = a.get("Digit")
        if not a.get("Channel"):
            s.error(a, "Channel not specified")
            return
        if ch is None:
            s.error(a, f"Channel '{a.get('Channel')}' not found")
            return
        if not digit:
            s.error(a, "No digit specified")
            return
        duration = int(a.get("Duration", "250")) if a.get("Duration", "250").isdigit() else 250
        s.respond(a, "Success", "DTMF successfully queued")
        for d in digit:
            self.rt.send_dtmf(ch, d, duration)

    async def setvar(self, s: Session, a: Action) -> None:
        name = a.get("Variable")
        if not name:
            s.error(a, "No variable specified")
            return
        if a.get("Channel"):
            ch = self.rt.world.find(a.get("Channel"))
            if ch is None:
                s.error(a, "No such channel")
                return
            self.rt.world.set_var(ch, name, a.get("Value"))
        else:
            self.rt.world.global_vars[name] = a.get("Value")
        s.respond(a, "Success", "Variable Set")

    async def getvar(self, s: Session, a: Action) -> None:
        name = a.get("Variable")
        if not name:
            s.error(a, "No variable specified")
            return
        if a.get("Channel"):
            ch = self.rt.world.find(a.get("Channel"))
            if ch is None:
                s.error(a, "No such channel")
                return
            # a dialplan function such as CALLERID(num) is evaluated, as Asterisk does
            value = substitute(f"${{{name}}}", ch) if "(" in name else ch.variables.get(name, "")
        else:
            value = self.rt.world.global_vars.get(name, "")
        s.respond(a, "Success", None, ("Variable", name), ("Value", value))

    async def userevent(self, s: Session, a: Action) -> None:
        if not a.get("UserEvent"):
            s.error(a, "UserEvent not specified")
            return
        s.respond(a, "Success", "Event Sent")
        fields = [(k, v) for k, v in a.headers if k.lower() != "action"]
        self.rt.world.emit("UserEvent", "user,all", fields)

    async def command(self, s: Session, a: Action) -> None:
        command = a.get("Command").strip()
        if command == "core show version":
            output = "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux (pbx_sim)"
        elif command == "core show channels count":
            output = f"{len(self.rt.world.channels)} active channels"
        else:
            output = f"No such command '{command}' (type 'core show help {command}' for help)"
        s.respond(a, "Success", "Command output follows", ("Output", output))
