"""Server-side sessions behind a signed, random id in an HttpOnly SameSite=Strict cookie.

The cookie carries only `<id>.<hmac>`: the signature lets us refuse forged ids before any lookup,
and the data (user, CSRF token) stays on the server, so signing out really ends the session.
Sessions live in this process; a scale-out deployment pins users to a node (or swaps this store).

Whoever holds something for a session (the websocket hub: its open sockets) subscribes with
`on_end`, and hears of every way a session ends: sign-out, `end_user`, expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from agent_desktop.principal import Principal
from crm_core.clock import Clock

COOKIE = "cb_session"
IDLE_TIMEOUT_S = 12 * 3600.0  # a working day; the desktop's websocket keeps it alive
MAX_AGE_S = 16 * 3600.0


@dataclass(slots=True)
class Session:
    sid: str
    principal: Principal
    csrf_token: str
    created: float
    last_seen: float
    remote_addr: str = ""
    credential: str = ""  # account_watch.credential_mark of the password it signed in with


class SessionStore:
    def __init__(self, secret: bytes, clock: Clock) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._secret = secret
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._listeners: list[Callable[[str], object]] = []

    def on_end(self, listener: Callable[[str], object]) -> None:
        """`listener(sid)` is called whenever a session ends, however it ends."""
        self._listeners.append(listener)

    def _ended(self, sids: list[str]) -> None:
        for sid in sids:
            for listener in self._listeners:
                listener(sid)

    def __len__(self) -> int:
        return len(self._sessions)

    def _sign(self, sid: str) -> str:
        return hmac.new(self._secret, sid.encode(), hashlib.sha256).hexdigest()[:32]

    def create(
        self, principal: Principal, remote_addr: str = "", credential: str = ""
    ) -> tuple[Session, str]:
        """A new session and the cookie value that names it."""
        self.purge()  # sign-ins are rare enough to pay for sweeping out the expired
        sid = secrets.token_urlsafe(32)
        now = self._clock.monotonic()
        session = Session(
            sid=sid,
            principal=principal,
            csrf_token=secrets.token_urlsafe(32),
            created=now,
            last_seen=now,
            remote_addr=remote_addr,
            credential=credential,
        )
        self._sessions[sid] = session
        return session, f"{sid}.{self._sign(sid)}"

    def resolve(self, cookie_value: str | None) -> Session | None:
        if not cookie_value:
            return None
        sid, _, signature = cookie_value.partition(".")
        if not sid or not hmac.compare_digest(signature, self._sign(sid)):
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = self._clock.monotonic()
        if now - session.last_seen > IDLE_TIMEOUT_S or now - session.created > MAX_AGE_S:
            del self._sessions[sid]
            self._ended([sid])
            return None
        session.last_seen = now
        return session

    def end(self, sid: str) -> None:
        if self._sessions.pop(sid, None) is not None:
            self._ended([sid])

    def user_sessions(self, user_id: int) -> int:
        return sum(1 for s in self._sessions.values() if s.principal.user_id == user_id)

    def credentials(self) -> dict[int, dict[str, str]]:
        """user id -> {session id: credential mark} of every session (account_watch)."""
        marks: dict[int, dict[str, str]] = {}
        for sid, s in self._sessions.items():
            marks.setdefault(s.principal.user_id, {})[sid] = s.credential
        return marks

    def end_user(self, user_id: int) -> int:
        """Ends every session of a user (deactivated, forced out); returns how many."""
        ended = [sid for sid, s in self._sessions.items() if s.principal.user_id == user_id]
        for sid in ended:
            del self._sessions[sid]
        self._ended(ended)
        return len(ended)

    def purge(self) -> None:
        now = self._clock.monotonic()
        expired = [
            sid
            for sid, s in self._sessions.items()
            if now - s.last_seen > IDLE_TIMEOUT_S or now - s.created > MAX_AGE_S
        ]
        for sid in expired:
            del self._sessions[sid]
        self._ended(expired)
