"""The AMI link: one supervised Asterisk Manager session with timeouts, watchdog and reconnect.

panoramisk 1.4's `Manager` is not used for the session, because each of its parts is one of
the pitfalls DESIGN.md lists: actions have no timeout; its ping never checks the reply; replies
that say "successfully queued" or "Added ... to queue" (PlayDTMF, Atxfer, QueueAdd) are taken
for list starts and never resolve (PlayDTMF's even raises inside `data_received`, which drops
the connection); an `as_list=True` action answered with an Error never resolves; the
`OriginateResponse` is swallowed into the Originate's future instead of reaching the event
stream; reconnects are ownerless `call_later` callbacks at a fixed delay; unanswered actions
are *replayed* after a reconnect (a second Originate to a debtor); and its decoder drops the
bytes of a UTF-8 character split between two reads. test_link_panoramisk_pitfalls.py pins two
of these against real Asterisk bytes. So the session (`ami_bridge.session`) is plain asyncio
streams over `ami_bridge.frames` (incremental, byte-safe framing), and the link adds:

- every action bounded by a timeout (ActionTimeout), and failed, never replayed, on link loss;
- a watchdog: a Ping every `ping_interval`; silence for `dead_after` seconds means dead (bytes
  received but not yet read, as after a stall of a busy machine, are not silence);
- every event received before EOF (after `Event: Shutdown` too) is delivered before the link
  reports itself down, whatever ended the session;
- reconnect with capped exponential backoff and jitter (a refused login waits the maximum,
  so a wrong secret does not trip fail2ban);
- `OriginateResponse` matched to its Originate by ActionID *and* passed on as an event; the wait
  survives a reconnect (Asterisk sends it to every session) and has its own timeout.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ami_bridge.errors import (
    ActionTimeout,
    AmiError,
    ConnectFailed,
    LinkDown,
    LoginFailed,
    OriginateLost,
)
from ami_bridge.frames import Message
from ami_bridge.session import Session, SessionLost, open_stream
from ami_bridge.switch import Headers, Reply
from crm_core.config import AmiSettings

log = logging.getLogger(__name__)

EventHandler = Callable[[Message], None]
StateHandler = Callable[["LinkState", str], None]
UpHandler = Callable[["Link"], Awaitable[None]]


class LinkState(enum.StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    UP = "up"
    WAITING = "waiting"  # backing off before the next connection attempt


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str
    secret: str = field(repr=False)
    events: str = "on"  # Login `Events:` (on, or a class list such as "call,agent,user")
    ping_interval: float = 1.0
    dead_after: float = 3.0
    action_timeout: float = 5.0
    connect_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0

    @classmethod
    def from_settings(cls, ami: AmiSettings) -> LinkConfig:
        """From the `[ami]` section of Callboard's configuration."""
        return cls(
            host=ami.host,
            port=ami.port,
            username=ami.username,
            secret=ami.secret,
            ping_interval=ami.ping_interval_s,
            dead_after=ami.dead_after_s,
            action_timeout=ami.action_timeout_s,
            backoff_max=ami.reconnect_max_s,
        )

    def __post_init__(self) -> None:
        if not self.username:
            raise ValueError("AMI username must not be empty")
        if not 0 < self.ping_interval < self.dead_after:
            raise ValueError(
                f"ping_interval ({self.ping_interval}) must be positive and shorter than "
                f"dead_after ({self.dead_after})"
            )
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise ValueError("backoff_initial must be positive and at most backoff_max")


def backoff_delay(
    config: LinkConfig, failures: int, rng: random.Random, *, after_refusal: bool = False
) -> float:
    """Seconds before attempt `failures + 1`: exponential, capped, with jitter in [base/2, base]
    so that many bridges restarting together do not reconnect in step. A refused login waits
    the cap at once: retrying a wrong secret fast only feeds fail2ban."""
    exponent = min(failures - 1, 30)  # 2**30 is beyond any sane cap; avoids float overflow
    base = config.backoff_max if after_refusal else config.backoff_initial * 2**exponent
    base = min(config.backoff_max, base)
    return base / 2 + rng.uniform(0, base / 2)


class Link:
    """The supervised AMI session; `run()` is its task body, `stop()` ends it cleanly."""

    def __init__(
        self,
        config: LinkConfig,
        *,
        on_event: EventHandler,
        on_up: UpHandler | None = None,
        on_state: StateHandler | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._on_event = on_event
        self._on_up = on_up
        self._on_state = on_state
        self._rng = rng or random.Random()
        self._tag = secrets.token_hex(3)  # replies from another client never match our ids
        self._ids = (f"cb-{self._tag}-{n}" for n in itertools.count(1))
        self._session: Session | None = None
        self._originates: dict[str, asyncio.Future[Message]] = {}
        self._up = asyncio.Event()
        self._stop = asyncio.Event()
        self._attempts: list[asyncio.Future[None]] = []  # wait_up/wait_attempt callers
        self.state = LinkState.STOPPED
        self.last_error: AmiError | None = None
        self.sessions = 0  # sessions opened so far (a reconnect makes it > 1)
        self.event_errors = 0  # events the handler failed on (logged, skipped)

    # -- the ActionPort the Switch uses --------------------------------------------------------

    async def send(
        self, action: str, headers: Headers, *, reply_timeout: float | None = None
    ) -> Reply:
        pending = await self._session_or_raise(action).request(
            action, headers, reply_timeout=reply_timeout or self.config.action_timeout
        )
        return pending.future.result()

    async def send_list(
        self, action: str, headers: Headers = (), *, reply_timeout: float | None = None
    ) -> list[Message]:
        """A list action (`EventList: start` ... `...Complete`): its items, in order."""
        pending = await self._session_or_raise(action).request(
            action, headers, reply_timeout=reply_timeout or self.config.action_timeout, is_list=True
        )
        return pending.items

    async def originate(
        self, headers: Headers, *, reply_timeout: float | None = None, result_timeout: float
    ) -> Reply:
        session = self._session_or_raise("Originate")
        action_id = next(self._ids)
        waiter: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._originates[action_id] = waiter  # before sending: the event may beat the reply
        try:
            try:
                await session.request(
                    "Originate",
                    headers,
                    action_id=action_id,
                    reply_timeout=reply_timeout or self.config.action_timeout,
                )
            except (ActionTimeout, LinkDown) as exc:  # it may have been queued all the same
                raise OriginateLost(f"{exc}; the call may exist") from None
            try:
                async with asyncio.timeout(result_timeout):
                    return await waiter
            except TimeoutError:
                raise ActionTimeout("Originate", result_timeout, "OriginateResponse") from None
        finally:
            self._originates.pop(action_id, None)

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    async def wait_up(self, within: float) -> None:
        """Wait until logged in. Raises LoginFailed at once if Asterisk refuses the login (a
        retry with the same secret cannot succeed); on timeout raises the last connection
        error, or LinkDown."""
        try:
            async with asyncio.timeout(within):
                while not self._up.is_set():
                    await self.wait_attempt()
                    if isinstance(self.last_error, LoginFailed):
                        raise self.last_error
        except TimeoutError:
            if self.last_error is not None:
                raise self.last_error from None
            raise LinkDown(f"AMI link not up within {within:g} s") from None

    async def wait_attempt(self) -> None:
        """Wait for the end of the next connection attempt, whatever its outcome."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._attempts.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._attempts:
                self._attempts.remove(waiter)

    def _attempt_ended(self) -> None:
        for waiter in self._attempts:
            if not waiter.done():
                waiter.set_result(None)
        self._attempts.clear()

    async def run(self) -> None:
        failures = 0
        try:
            while not self._stop.is_set():
                self._set_state(LinkState.CONNECTING, f"{self.config.host}:{self.config.port}")
                try:
                    session = await self._open_unless_stopped()
                except (ConnectFailed, LoginFailed) as exc:
                    self.last_error = exc
                    self._attempt_ended()
                    failures += 1
                    log.error("AMI connection failed (attempt %d): %s", failures, exc)
                    await self._back_off(failures, after_refusal=isinstance(exc, LoginFailed))
                    continue
                if session is None:  # stop() came while connecting
                    break
                failures = 0
                self.last_error = None
                self._attempt_ended()
                reason = await self._serve(session)
                if not self._stop.is_set():
                    log.warning("AMI link lost: %s", reason)
                    self.last_error = LinkDown(f"AMI link lost: {reason}")
                    await self._back_off(1)
        finally:
            if self._session is not None:
                self._session.close()
            self._set_state(LinkState.STOPPED, "")

    async def stop(self) -> None:
        """Log off and make `run()` return; pending actions fail with LinkDown."""
        self._stop.set()
        session = self._session
        if session is None:
            return
        try:
            await session.request("Logoff", [], reply_timeout=1.0)
        except (AmiError, SessionLost) as exc:
            log.info("AMI logoff not acknowledged: %s", exc)
        session.close()

    # -- internals -----------------------------------------------------------------------------

    def _session_or_raise(self, action: str) -> Session:
        if self._session is None or not self._up.is_set():
            raise LinkDown(f"AMI {action}: link is {self.state.value}")
        return self._session

    def _set_state(self, state: LinkState, detail: str) -> None:
        self.state = state
        if self._on_state is not None:
            self._on_state(state, detail)

    async def _back_off(self, failures: int, *, after_refusal: bool = False) -> None:
        delay = backoff_delay(self.config, failures, self._rng, after_refusal=after_refusal)
        self._set_state(LinkState.WAITING, f"retry in {delay:.1f} s")
        try:
            async with asyncio.timeout(delay):
                await self._stop.wait()
        except TimeoutError:
            pass

    async def _open_unless_stopped(self) -> Session | None:
        """`_open()`, abandoned as soon as stop() is called (a connect may take seconds)."""
        opening = asyncio.create_task(self._open(), name="ami-connect")
        stopping = asyncio.create_task(self._stop.wait(), name="ami-connect-stop")
        try:
            await asyncio.wait({opening, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (opening, stopping):
                task.cancel()
            await asyncio.wait({opening, stopping})
        if opening.cancelled():
            return None
        session = opening.result()  # raises ConnectFailed / LoginFailed
        if self._stop.is_set():
            session.close()
            return None
        return session

    async def _open(self) -> Session:
        cfg = self.config
        try:
            async with asyncio.timeout(cfg.connect_timeout):
                reader, writer = await open_stream(cfg.host, cfg.port)
        except TimeoutError:
            raise ConnectFailed(
                cfg.host,
                cfg.port,
                f"no answer within {cfg.connect_timeout:g} s (host unreachable or port filtered)",
            ) from None
        except ConnectionRefusedError:
            raise ConnectFailed(
                cfg.host,
                cfg.port,
                "connection refused (is Asterisk running with AMI on this port?)",
            ) from None
        except socket.gaierror as exc:
            raise ConnectFailed(
                cfg.host, cfg.port, f"cannot resolve host: {exc.strerror}"
            ) from None
        except OSError as exc:
            raise ConnectFailed(cfg.host, cfg.port, exc.strerror or str(exc)) from None
        session = Session(reader, writer, self._ids)
        try:
            await session.read_banner(cfg.connect_timeout)
            # Asterisk answers a refused login only after 1 s
            await session.login(cfg.username, cfg.secret, cfg.events, cfg.connect_timeout + 1.0)
        except (TimeoutError, ValueError, OSError, SessionLost) as exc:
            session.close()
            reason = "no greeting or login reply in time" if isinstance(exc, TimeoutError) else exc
            raise ConnectFailed(cfg.host, cfg.port, str(reason)) from None
        except BaseException:  # LoginFailed, or cancelled by stop(): never leak the socket
            session.close()
            raise
        return session

    async def _serve(self, session: Session) -> str:
        """Run one logged-in session until it is lost; returns why."""
        self._session = session
        self.sessions += 1
        self._up.set()
        self._set_state(LinkState.UP, f"{self.config.host}:{self.config.port}")
        reason = "stopped"
        try:
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._read(session), name="ami-reader")
                    tasks.create_task(self._watch(session), name="ami-watchdog")
                    if self._on_up is not None:
                        tasks.create_task(self._run_on_up(self._on_up), name="ami-on-up")
            except* SessionLost as group:
                reason = str(group.exceptions[0])
            # Whoever ended the session (the watchdog, a failed resync), what was received
            # before is delivered before anyone hears that the link is down.
            for message in await session.read_received():
                self._route(session, message)
        finally:
            self._up.clear()
            self._session = None
            session.fail_all(LinkDown(f"AMI link lost while waiting for a reply: {reason}"))
            session.close()
        return reason

    async def _read(self, session: Session) -> None:
        """Deliver every message in order until EOF. After `Event: Shutdown` Asterisk closes
        the socket; whatever it sends until then is still delivered (bounded by dead_after)."""
        goodbye: str | None = None
        until: float | None = None  # loop time by which the EOF that follows Shutdown is due
        messages, session.backlog = session.backlog, []
        while True:
            for message in messages:
                goodbye = self._route(session, message) or goodbye
            if goodbye is None:
                messages = await session.read_messages()
                continue
            if until is None:
                until = asyncio.get_running_loop().time() + self.config.dead_after
            try:
                async with asyncio.timeout_at(until):
                    messages = await session.read_messages()
            except (TimeoutError, SessionLost):
                raise SessionLost(goodbye) from None

    def _route(self, session: Session, message: Message) -> str | None:
        """Hand one message to its action or to the event handler; for `Event: Shutdown`,
        returns why the session is ending."""
        if session.take(message):  # a reply, or an item of a list we asked for
            return None
        event = message.get("Event")
        if event is None:
            log.warning("AMI message neither response nor event: %r", list(message)[:4])
            return None
        if event == "OriginateResponse":
            waiter = self._originates.get(message.get("ActionID", ""))
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
        self._deliver(message)
        if event == "Shutdown":
            return f"Asterisk is shutting down (Restart: {message.get('Restart', 'False')})"
        return None

    def _deliver(self, event: Message) -> None:
        try:
            self._on_event(event)
        except Exception:  # one bad event must not stop the stream: log it, count it, go on
            self.event_errors += 1
            log.exception("AMI event handler failed on %s", event.get("Event"))

    async def _watch(self, session: Session) -> None:
        """Ping every `ping_interval`; no bytes at all for `dead_after` seconds means dead."""
        cfg = self.config
        next_ping = time.monotonic()
        reader_had_its_turn = False
        while True:
            now = time.monotonic()
            silent = now - session.last_heard
            if silent >= cfg.dead_after:
                # After the event loop stalled (a busy machine), the bytes that end the silence
                # may be received but not yet read: they are not silence, and the reader takes
                # them first. Judged dead only once nothing received is waiting.
                if session.has_unread_bytes():
                    reader_had_its_turn = False
                    await asyncio.sleep(0)
                    continue
                if not reader_had_its_turn:  # what it was woken for but has not yet read
                    reader_had_its_turn = True
                    await asyncio.sleep(0)
                    continue
                raise SessionLost(f"no reply to Ping for {silent:.1f} s")
            reader_had_its_turn = False
            if now >= next_ping:
                session.ping()
                next_ping = now + cfg.ping_interval
            await asyncio.sleep(max(0.0, min(next_ping, session.last_heard + cfg.dead_after) - now))

    async def _run_on_up(self, on_up: UpHandler) -> None:
        try:
            await on_up(self)
        except AmiError as exc:  # the PBX did not answer the resync: try a fresh session
            raise SessionLost(f"after-connect resync failed: {exc}") from exc
        except Exception:  # a bug in the handler: keep the events flowing, say it loudly
            log.exception("AMI after-connect handler failed; the link stays up")
