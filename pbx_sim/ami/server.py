"""The AMI TCP server: sessions, login, event fan-out and fault injection for tests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from pbx_sim.ami.framing import BANNER, Action, FramingError, encode, read_action
from pbx_sim.ami.permissions import AmiUser
from pbx_sim.clock import SimClock

log = logging.getLogger(__name__)

Handler = Callable[["Session", Action], Coroutine[Any, Any, None]]
PRE_LOGIN = {"login", "challenge", "logoff"}
MAX_BACKLOG = 16 * 1024 * 1024  # bytes queued for a client before it counts as stuck


@dataclass
class Faults:
    """Misbehaviours a test can switch on (see PbxSim.fault_*)."""

    ignore_actions: set[str] = field(default_factory=set)  # lower-case action names
    silent: bool = False  # stop answering anything (Ping included) and stop sending events


class Session:
    def __init__(
        self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.username = ""
        self.authenticated = False
        self.user = AmiUser("")  # the manager.conf user once logged in
        self.event_classes: frozenset[str] | None = None  # None: every class ("on")
        self.challenge = ""
        self.held: list[bytes] | None = None  # events queued during a synchronous Originate
        self.closed = False
        self.peer_gone = asyncio.Event()  # the client closed its side (or the connection broke)
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"
        self.session_id = f"0x{random.getrandbits(48):012x}"

    # -- output -----------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.closed:
            return
        transport = self.writer.transport
        if transport is not None and transport.get_write_buffer_size() > MAX_BACKLOG:
            # Like Asterisk's write timeout: a client that stopped reading is disconnected.
            log.warning("AMI session %s is not reading; disconnecting it", self.remote)
            self.abort()
            return
        try:
            self.writer.write(data)
        except (ConnectionError, RuntimeError):
            self.closed = True

    def send(self, headers: list[tuple[str, str]]) -> None:
        self.write(encode(headers))

    def respond(
        self, action: Action, response: str, message: str | None = None, *extra: tuple[str, str]
    ) -> None:
        headers = [("Response", response)]
        if action.action_id is not None:
            headers.append(("ActionID", action.action_id))
        if message is not None:
            headers.append(("Message", message))
        headers.extend(extra)
        self.send(headers)

    def error(self, action: Action, message: str) -> None:
        self.respond(action, "Error", message)

    def set_event_mask(self, mask: str) -> None:
        """`Events:` of Login / `EventMask:` of the Events action: on, off or class names."""
        value = mask.strip().lower()
        if value in ("", "on", "yes", "true", "all"):
            self.event_classes = None
        elif value in ("off", "no", "false", "none"):
            self.event_classes = frozenset()
        else:
            self.event_classes = frozenset(c.strip() for c in value.split(",") if c.strip())

    def wants(self, privilege: str) -> bool:
        if self.event_classes is None:
            return True
        return bool(self.event_classes & (set(privilege.split(",")) - {"all"}))

    def deliver_event(self, data: bytes, privilege: str) -> None:
        if not self.authenticated or not self.wants(privilege) or not self.user.reads(privilege):
            return
        if self.held is not None:
            self.held.append(data)
        else:
            self.write(data)

    def hold_events(self) -> None:
        self.held = []

    def release_events(self) -> None:
        held, self.held = self.held or [], None
        for data in held:
            self.write(data)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.writer.drain()
        # Goodbye the way TCP peers say it: FIN after everything sent, then close once the
        # client has closed too (bounded). Closing with the client's last actions unread would
        # reset the connection, and a reset makes the client's OS drop what it had received
        # but not yet read: the events just sent (a shutdown's hangups).
        with contextlib.suppress(ConnectionError, RuntimeError, OSError, TimeoutError):
            if self.writer.can_write_eof() and not self.writer.is_closing():
                self.writer.write_eof()
                async with asyncio.timeout(1.0):
                    await self.peer_gone.wait()
        self.writer.close()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.writer.wait_closed()

    def abort(self) -> None:
        """Drop the TCP connection without a goodbye (a crashed or unplugged PBX)."""
        self.closed = True
        transport = self.writer.transport
        if transport is not None:
            transport.abort()

    # -- login ------------------------------------------------------------------------------
    def security_event(
        self, event: str, severity: str, account: str, version: str = "1", *extra: tuple[str, str]
    ) -> None:
        now = self.server.clock.now()
        millis = f".{int(now % 1 * 1000):03d}+0000"
        tv = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + millis
        session_tv = tv if event == "SuccessfulAuth" else "1970-01-01T00:00:00.000+0000"
        self.server.emit_to_all(
            event,
            "security,all",
            [
                ("EventTV", tv),
                ("Severity", severity),
                ("Service", "AMI"),
                ("EventVersion", version),
                ("AccountID", account),
                ("SessionID", self.session_id),
                ("LocalAddress", f"IPV4/TCP/127.0.0.1/{self.server.port}"),
                ("RemoteAddress", self.remote),
                *extra,
                ("SessionTV", session_tv),
            ],
        )


class AmiServer:
    def __init__(
        self,
        clock: SimClock,
        users: Mapping[str, str | AmiUser],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`users`: name -> AmiUser, or just its secret for a user with read/write = all."""
        self.clock = clock
        self.accounts = {
            name: user if isinstance(user, AmiUser) else AmiUser(user)
            for name, user in users.items()
        }
        self.users = {name: user.secret for name, user in self.accounts.items()}
        self.host = host
        self.port = port
        self.sessions: set[Session] = set()
        self.handlers: dict[str, Handler] = {}
        self.faults = Faults()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.started_at = 0.0

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.started_at = self.clock.now()

    async def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def stop(self) -> None:
        await self.stop_listening()
        for session in list(self.sessions):
            session.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(Session(self, reader, writer)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- event fan-out ----------------------------------------------------------------------
    def broadcast(self, event: str, headers: list[tuple[str, str]]) -> None:
        if self.faults.silent:
            return
        data = encode(headers)
        privilege = headers[1][1] if len(headers) > 1 and headers[1][0] == "Privilege" else ""
        for session in list(self.sessions):
            session.deliver_event(data, privilege)
        self.clock.touch()

    def emit_to_all(self, event: str, privilege: str, fields: list[tuple[str, str]]) -> None:
        self.broadcast(
            event,
            [
                ("Event", event),
                ("Privilege", privilege),
                ("Timestamp", f"{self.clock.now():.6f}"),
                *fields,
            ],
        )

    # -- serving ----------------------------------------------------------------------------
    async def _serve(self, session: Session) -> None:
        session.write(BANNER)
        self.sessions.add(session)
        try:
            while True:  # until the client closes: after our goodbye, what it sends is dropped
                try:
                    action = await read_action(session.reader)
                except (FramingError, ConnectionError, asyncio.IncompleteReadError) as exc:
                    log.info("AMI session %s dropped: %s", session.remote, exc)
                    break
                if action is None:
                    break
                if session.closed:
                    continue
                self.clock.touch()
                await self.dispatch(session, action)
        finally:
            session.peer_gone.set()
            self.sessions.discard(session)
            await session.close()

    async def dispatch(self, session: Session, action: Action) -> None:
        name = action.name.lower()
        if self.faults.silent or name in self.faults.ignore_actions:
            return
        if not name:
            session.error(action, "Missing action in request")
            return
        if not session.authenticated and name not in PRE_LOGIN:
            session.error(action, "Permission denied")
            session.security_event(
                "RequestNotAllowed",
                "Error",
                session.username,
                "1",
                ("RequestType", f"Action: {action.name}"),
            )
            return
        known = name in self.handlers or name in PRE_LOGIN or name == "events"
        if known and session.authenticated and not session.user.may_send(name):
            session.error(action, "Permission denied")  # a write class is missing (manager.conf)
            session.security_event(
                "RequestNotAllowed",
                "Error",
                session.username,
                "1",
                ("RequestType", f"Action: {action.name}"),
            )
            return
        if name == "login":
            await self.login(session, action)
        elif name == "challenge":
            session.challenge = f"{random.randrange(10**8, 10**9)}"
            session.respond(action, "Success", None, ("Challenge", session.challenge))
        elif name == "logoff":
            session.respond(action, "Goodbye", "Thanks for all the fish.")
            await session.close()
        elif name == "events":
            session.set_event_mask(action.get("EventMask", "on"))
            state = "Off" if session.event_classes == frozenset() else "On"
            session.respond(action, "Success", None, ("Events", state))
        elif name in self.handlers:
            await self.handlers[name](session, action)
        else:
            session.error(action, "Invalid/unknown command")

    async def login(self, session: Session, action: Action) -> None:
        username = action.get("Username")
        secret = self.users.get(username)
        if action.get("AuthType").lower() == "md5":
            expected = hashlib.md5((session.challenge + (secret or "")).encode()).hexdigest()
            ok = secret is not None and bool(session.challenge) and action.get("Key") == expected
        else:
            ok = secret is not None and action.get("Secret") == secret
        if not ok:
            session.username = username
            if secret is None:
                session.security_event("InvalidAccountID", "Error", username)
            else:
                session.security_event("InvalidPassword", "Error", username, "2")
            await asyncio.sleep(1.0)  # Asterisk's real-time penalty for a failed login
            session.error(action, "Authentication failed")
            await session.close()
            return
        session.username = username
        session.authenticated = True
        session.user = self.accounts[username]
        session.set_event_mask(action.get("Events", "on"))
        session.respond(action, "Success", "Authentication accepted")
        if session.wants("system,all") and session.user.reads("system,all"):
            uptime = max(int(self.clock.now() - self.started_at), 1)
            session.send(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", str(uptime)),
                    ("LastReload", str(uptime)),
                    ("Status", "Fully Booted"),
                ]
            )
        session.security_event(
            "SuccessfulAuth", "Informational", username, "1", ("UsingPassword", "0")
        )
