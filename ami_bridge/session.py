"""One AMI TCP session, from banner to EOF: framing I/O and the reply bookkeeping.

Every action carries an ActionID; its reply (and, for a list action, the items up to the
`...Complete` event) is matched by that id. Only a `Response` completes a plain action, so
"queued" replies (PlayDTMF, Atxfer, QueueAdd) resolve at once, and only actions sent as lists
collect items. Events that are neither are handed back to the Link.
"""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import Iterator

from ami_bridge.errors import ActionTimeout, InvalidRequest, LinkDown, LoginFailed, failure_for
from ami_bridge.frames import BANNER_PREFIX, FrameParser, Message, encode_action
from ami_bridge.switch import Headers


class _Reader(asyncio.StreamReader):
    """A StreamReader that hands out every byte received before a connection error, then the
    end. (asyncio's raises the error at the next read even while bytes are still buffered: a
    PBX that closes with our Pings unread resets the connection, and the events it sent just
    before, the hangups of a shutdown, were lost with it.)"""

    lost: BaseException | None = None

    def set_exception(self, exc: BaseException) -> None:
        self.lost = exc
        self.feed_eof()


async def open_stream(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """`asyncio.open_connection`, with a reader that keeps what was received before a reset."""
    loop = asyncio.get_running_loop()
    reader = _Reader(loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await loop.create_connection(lambda: protocol, host, port)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


class SessionLost(Exception):
    """The current session is over (EOF, reset, Shutdown, silence); the reason is the message."""


class PendingAction:
    """An action waiting for its reply (and, for a list action, its items)."""

    __slots__ = ("action", "future", "is_list", "items", "listing")

    def __init__(self, action: str, *, is_list: bool) -> None:
        self.action = action
        self.is_list = is_list
        self.listing = False
        self.items: list[Message] = []
        self.future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    def on_response(self, reply: Message) -> bool:
        """Take the reply; True when the action is complete."""
        if self.future.done():
            return True
        if reply.get("Response") == "Error":
            self.future.set_exception(failure_for(self.action, reply))
            return True
        if self.is_list and reply.get("EventList", "").lower() == "start":
            self.listing = True
            return False
        self.future.set_result(reply)
        return True

    def on_item(self, event: Message) -> bool:
        """Take one list item; True once the `...Complete` event arrived."""
        if event.get("EventList", "").lower() == "complete":
            if not self.future.done():
                self.future.set_result(event)
            return True
        self.items.append(event)
        return False

    def fail(self, error: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(error)
            self.future.exception()  # mark retrieved: nobody may be awaiting any more


class Session:
    """One TCP connection to Asterisk, from banner to EOF."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ids: Iterator[str]
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = FrameParser(expect_banner=False)
        self.ids = ids
        self.pending: dict[str, PendingAction] = {}
        self.backlog: list[Message] = []  # parsed while logging in, dispatched once up
        self.last_heard = time.monotonic()

    async def read_banner(self, within: float) -> str:
        async with asyncio.timeout(within):
            line = await self.reader.readline()
        banner = line.decode("utf-8", "replace").strip()
        if not line:
            raise ValueError("the server closed the connection before the AMI greeting")
        if not banner.startswith(BANNER_PREFIX):
            raise ValueError(f"not an AMI server: greeting was {banner[:60]!r}")
        return banner

    async def read_messages(self) -> list[Message]:
        try:
            data = await self.reader.read(65536)
        except OSError as exc:
            raise SessionLost(f"connection error: {exc}") from exc
        if not data:
            lost = getattr(self.reader, "lost", None)
            if lost is not None:
                raise SessionLost(f"connection error: {lost}")
            raise SessionLost("Asterisk closed the connection")
        self.last_heard = time.monotonic()
        return self.parser.feed(data)

    async def read_received(self) -> list[Message]:
        """The messages in bytes already received, without waiting for more: a session that is
        over still owes them to the link."""
        messages: list[Message] = []
        while True:
            try:
                async with asyncio.timeout(0):  # cancels only if read() would have to wait
                    data = await self.reader.read(65536)
            except (TimeoutError, OSError):
                return messages
            if not data:
                return messages
            messages.extend(self.parser.feed(data))

    def has_unread_bytes(self) -> bool:
        """Whether the OS holds bytes (or the EOF) received on this connection that the reader
        has not taken yet."""
        sock = self.writer.get_extra_info("socket")
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):  # closed meanwhile
            return False
        return bool(readable)

    def write(self, action: str, headers: Headers, action_id: str) -> None:
        fields: dict[str, list[str]] = {"Action": [action]}
        for name, value in headers:
            fields.setdefault(name, []).append(value)
        fields["ActionID"] = [action_id]
        try:
            wire = encode_action(fields)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        if self.writer.is_closing():
            raise LinkDown(f"AMI {action}: the connection is closing")
        self.writer.write(wire)

    async def request(
        self,
        action: str,
        headers: Headers,
        *,
        reply_timeout: float,
        is_list: bool = False,
        action_id: str | None = None,
    ) -> PendingAction:
        """Send and wait until complete; the returned action holds the reply and any items."""
        action_id = action_id or next(self.ids)
        pending = PendingAction(action, is_list=is_list)
        self.pending[action_id] = pending
        try:
            self.write(action, headers, action_id)
            async with asyncio.timeout(reply_timeout):
                await pending.future
        except TimeoutError:
            raise ActionTimeout(action, reply_timeout) from None
        finally:
            self.pending.pop(action_id, None)
        return pending

    def take(self, message: Message) -> bool:
        """Consume `message` if it is a reply or list item for a pending action."""
        action_id = message.get("ActionID")
        pending = self.pending.get(action_id) if action_id else None
        if pending is None:
            return False
        if "Event" not in message:  # OriginateResponse is an event with a Response header
            if pending.on_response(message):
                del self.pending[action_id or ""]
            return True
        if not pending.listing:
            return False  # e.g. the UserEvent that copies our ActionID: a real event
        if pending.on_item(message):
            del self.pending[action_id or ""]
        return True

    def ping(self) -> None:
        """Send a Ping whose Pong nobody awaits: the watchdog only needs bytes to come back."""
        action_id = next(self.ids)
        pending = PendingAction("Ping", is_list=False)
        pending.future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.pending[action_id] = pending
        try:
            self.write("Ping", [], action_id)
        except LinkDown:
            pass  # closing already: the reader reports why

    async def login(self, username: str, secret: str, events: str, within: float) -> None:
        """Log in before any reader task exists: read frames here until the reply comes;
        messages that arrive with it wait in `backlog` for the reader."""
        action_id = next(self.ids)
        self.write(
            "Login", [("Username", username), ("Secret", secret), ("Events", events)], action_id
        )
        async with asyncio.timeout(within):
            while True:
                messages = await self.read_messages()
                for index, message in enumerate(messages):
                    if "Event" not in message and message.get("ActionID") == action_id:
                        if message.get("Response") != "Success":
                            raise LoginFailed(username, message.get("Message", "refused"))
                        self.backlog.extend(messages[index + 1 :])
                        return
                    self.backlog.append(message)

    def fail_all(self, error: LinkDown) -> None:
        for pending in self.pending.values():
            pending.fail(error)
        self.pending.clear()

    def close(self) -> None:
        self.writer.close()
