"""The websocket hub: one bus subscription, fanned out to every signed-in browser by topic.

The board turns events into (topic, message) pairs; the hub serialises each message once and
queues it on every connection subscribed to the topic. A connection whose browser stops reading
is closed rather than allowed to grow without bound; the browser reconnects and resyncs.

An operator may have several tabs open; only one (the active tab) handles calls, the others are
read-only until the user takes over in one of them or the active one goes away.

Every connection belongs to the session that opened it. When a session ends (sign-out, a user
changed or deactivated by an admin, expiry) its connections are unsubscribed at once, so not one
more message reaches them, and closed with `SIGNED_OUT` (4401), which the page answers by going
to the sign-in page instead of reconnecting.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from agent_desktop.board import EVENT_TYPES, PANEL, LiveBoard, agent_topic
from agent_desktop.principal import Principal
from crm_core.bus import Bus, Overflow
from crm_core.clock import Clock

log = logging.getLogger(__name__)

SEND_QUEUE = 2000  # messages a browser may lag behind before we drop it
SAMPLE_EVERY_S = 15.0
SIGNED_OUT = 4401  # close code: the session ended; the page goes to /login (static/common.js)
TOO_MANY = 4429  # close code: the session has its limit of open sockets already
SHUTTING_DOWN = 1001  # WSCloseCode.GOING_AWAY: the browser reconnects to the next run

Closer = Callable[[int, str], Awaitable[object]]


class TopicDenied(Exception):
    def __init__(self, topic: str) -> None:
        super().__init__(f"topic {topic!r} is not allowed for your role")
        self.topic = topic


def allowed_topics(principal: Principal) -> frozenset[str]:
    """Operators hear only their own desk; supervisors and admins also hear the panels."""
    own = agent_topic(principal.agent_id)
    return frozenset({own, PANEL}) if principal.is_supervisor else frozenset({own})


@dataclass(eq=False, slots=True)
class Connection:
    principal: Principal
    tab_id: str
    handles_calls: bool  # a desk tab (takes part in the active-tab choice), not a panel
    topics: frozenset[str] = frozenset()
    outbox: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(SEND_QUEUE))
    overflowed: bool = False
    ended: bool = False  # its session ended: nothing more is sent, even what is queued
    session_id: str = ""  # the session that opened it: ending the session closes it
    close: Closer | None = None  # (code, reason), set by the websocket handler
    closing: asyncio.Future[object] | None = None  # the close end_session started

    def push(self, text: str) -> None:
        if self.overflowed or self.ended:
            return
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed = True  # the writer sees this and closes; the browser resyncs


class Hub:
    def __init__(self, bus: Bus, board: LiveBoard, clock: Clock) -> None:
        self._bus = bus
        self.bus = bus  # for those who publish beside the hub (manual-dial outcomes)
        self._board = board
        self._clock = clock
        self._by_topic: dict[str, set[Connection]] = {}
        self._desks: dict[str, list[Connection]] = {}  # agent id -> desk tabs, active first
        self._tab_ids = itertools.count(1)
        self._by_session: dict[str, set[Connection]] = {}
        self._closing: set[asyncio.Task[object]] = set()
        self.delivered = 0

    # -- connections -------------------------------------------------------------------------

    def connect(
        self,
        principal: Principal,
        *,
        handles_calls: bool,
        topics: Iterable[str] | None = None,
        session_id: str = "",
    ) -> Connection:
        allowed = allowed_topics(principal)
        wanted = frozenset(topics) if topics is not None else allowed
        denied = wanted - allowed
        if denied:
            raise TopicDenied(sorted(denied)[0])
        conn = Connection(
            principal, f"t{next(self._tab_ids)}", handles_calls, wanted, session_id=session_id
        )
        if session_id:
            self._by_session.setdefault(session_id, set()).add(conn)
        for topic in wanted:
            self._by_topic.setdefault(topic, set()).add(conn)
        if handles_calls:
            tabs = self._desks.setdefault(principal.agent_id, [])
            tabs.append(conn)
            self._announce_tabs(principal.agent_id)
        return conn

    def disconnect(self, conn: Connection) -> None:
        """Unsubscribes the connection (idempotent: the handler calls it again on its way out)."""
        owned = self._by_session.get(conn.session_id)
        if owned is not None:
            owned.discard(conn)
            if not owned:
                del self._by_session[conn.session_id]
        for topic in conn.topics:
            subscribers = self._by_topic.get(topic)
            if subscribers is not None:
                subscribers.discard(conn)
                if not subscribers:
                    del self._by_topic[topic]
        tabs = self._desks.get(conn.principal.agent_id)
        if tabs is not None and conn in tabs:
            was_active = tabs[0] is conn
            tabs.remove(conn)
            if not tabs:
                del self._desks[conn.principal.agent_id]
            elif was_active:
                self._announce_tabs(conn.principal.agent_id)

    def claim(self, conn: Connection) -> None:
        """This tab takes over call handling; the others turn read-only."""
        tabs = self._desks.get(conn.principal.agent_id)
        if tabs is None or conn not in tabs:
            return
        tabs.remove(conn)
        tabs.insert(0, conn)
        self._announce_tabs(conn.principal.agent_id)

    def active_tab(self, agent_id: str) -> str | None:
        tabs = self._desks.get(agent_id)
        return tabs[0].tab_id if tabs else None

    def is_online(self, agent_id: str) -> bool:
        return agent_id in self._desks

    def online_agents(self) -> list[str]:
        return list(self._desks)

    def connections(self) -> int:
        return sum(len(s) for s in self._by_topic.values())

    def session_connections(self, session_id: str) -> int:
        return len(self._by_session.get(session_id, ()))

    def end_session(self, session_id: str) -> int:
        """The session ended: its sockets hear nothing more from now, and are closed with
        SIGNED_OUT in the background. Returns how many were open."""
        conns = list(self._by_session.pop(session_id, ()))
        for conn in conns:
            self.disconnect(conn)
            conn.ended = True
            if conn.close is not None:
                task = asyncio.ensure_future(conn.close(SIGNED_OUT, "signed out"))
                conn.closing = task  # the handler waits for it before it returns
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        if conns:
            log.info("closed %d websocket(s) of an ended session", len(conns))
        return len(conns)

    async def close_all(self) -> None:
        """At shutdown: tell every browser we are going away (they reconnect to the next run)."""
        everyone = {conn for subscribers in self._by_topic.values() for conn in subscribers}
        closers = [
            conn.close(SHUTTING_DOWN, "server shutting down")
            for conn in everyone
            if conn.close is not None
        ]
        await asyncio.gather(*closers, *self._closing, return_exceptions=True)

    def _announce_tabs(self, agent_id: str) -> None:
        tabs = self._desks.get(agent_id, [])
        for index, tab in enumerate(tabs):
            tab.push(json.dumps({"type": "tab", "tab_id": tab.tab_id, "active": index == 0}))

    # -- fan-out -----------------------------------------------------------------------------

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        subscribers = self._by_topic.get(topic)
        if not subscribers:
            return
        text = json.dumps(message, separators=(",", ":"))
        for conn in subscribers:
            conn.push(text)
            self.delivered += 1

    def send_to_agent(self, agent_id: str, message: dict[str, Any]) -> None:
        self.publish(agent_topic(agent_id), message)

    async def run(self) -> None:
        """Reads the bus until cancelled; one bad event is logged, never fatal to the hub."""
        subscription = self._bus.subscribe(
            "agent_desktop.hub", *EVENT_TYPES, maxsize=50_000, overflow=Overflow.DROP_OLDEST
        )
        try:
            async for event in subscription:
                try:
                    pushes = self._board.apply(event)
                except (KeyError, ValueError, TypeError, AttributeError):
                    log.exception("desktop board could not apply %s", type(event).__name__)
                    continue
                for topic, message in pushes:
                    self.publish(topic, message)
        finally:
            self._bus.unsubscribe(subscription)

    async def run_sampler(self, every_s: float = SAMPLE_EVERY_S) -> None:
        """Adds a point to the wallboard chart at a steady pace, pushed to the panels."""
        while True:
            topic, message = self._board.sample(self._clock.now())
            self.publish(topic, message)
            await asyncio.sleep(every_s)
