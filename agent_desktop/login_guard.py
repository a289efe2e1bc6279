"""The sign-in form's guards: its CSRF token, bound to a pre-session, and the coalescing of a
flood of refused sign-ins in the audit log.

Sign-in CSRF. Before anyone is signed in there is no session to hold a synchronizer token, so
the form's token is bound to a *pre-session*: a random id in the `cb_login_csrf` cookie
(HttpOnly, SameSite=Strict, path `/login`). The token is `<issued>.<nonce>.<mac>`, the MAC being
an HMAC under a key derived from the server's secret over the pre-session id, the issue time and
the nonce. A sign-in is accepted only with a token that this server issued (nobody can mint one
without the secret), for the pre-session in the request's cookie (a token lifted from another
browser is useless without that cookie), within `LOGIN_TOKEN_TTL_S`, and only once (a used
token is remembered until it would have expired anyway). Anything else is 403 and a fresh form.

Failure audit. Every refused sign-in is audited, but an address that fails more than
`COALESCE_AFTER` times within one wall-clock minute no longer gets a row per attempt: its
further failures in that minute are counted in one summary row (`reason = "coalesced"`, with
`count`, the minute, the count per reason and the last user names tried), updated as they
come. So a flood costs at most `COALESCE_AFTER + 1` rows per address per minute, and the count
stays exact.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from crm_core.clock import Clock

LOGIN_TOKEN_TTL_S = 15 * 60.0  # how long a sign-in form stays usable
MAX_USED_TOKENS = 100_000  # used tokens remembered at most (each only until it expires)
_PRE_SESSION = re.compile(r"[A-Za-z0-9_-]{32}")

COALESCE_AFTER = 20  # failures per address per minute audited one by one
MAX_ADDRESSES = 10_000  # addresses tracked at most within a minute
SAMPLE_NAMES = 10  # user names kept in a summary row


class LoginTokens:
    """Issues and redeems the sign-in form's CSRF tokens (see the module's docstring)."""

    def __init__(
        self,
        secret: bytes,
        clock: Clock,
        ttl_s: float = LOGIN_TOKEN_TTL_S,
        max_used: int = MAX_USED_TOKENS,
    ) -> None:
        self._key = hmac.new(secret, b"callboard sign-in csrf", hashlib.sha256).digest()
        self._clock = clock
        self._ttl_s = ttl_s
        self._max_used = max_used
        self._used: OrderedDict[str, float] = OrderedDict()  # token -> when it expires

    @staticmethod
    def pre_session(cookie: str | None) -> str:
        """The browser's pre-session id: the one its cookie holds, else a new one (so two sign-in
        tabs of one browser share it and both forms stay valid)."""
        if cookie is not None and _PRE_SESSION.fullmatch(cookie):
            return cookie
        return secrets.token_urlsafe(24)

    def _mac(self, pre_session: str, issued: int, nonce: str) -> str:
        message = f"{pre_session}|{issued}|{nonce}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, pre_session: str) -> str:
        issued = int(self._now())
        nonce = secrets.token_urlsafe(12)
        return f"{issued}.{nonce}.{self._mac(pre_session, issued, nonce)}"

    def redeem(self, pre_session: str | None, token: object) -> bool:
        """True once for a token this server issued for `pre_session` within the TTL."""
        if not isinstance(token, str) or not pre_session or len(token) > 200:
            return False
        if not _PRE_SESSION.fullmatch(pre_session):
            return False
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isascii() or not parts[0].isdigit():
            return False
        issued, nonce, mac = int(parts[0]), parts[1], parts[2]
        if not hmac.compare_digest(mac, self._mac(pre_session, issued, nonce)):
            return False
        now = self._now()
        if not issued - 5 <= now <= issued + self._ttl_s:  # 5 s of clock skew between nodes
            return False
        self._forget_expired(now)
        if token in self._used:
            return False  # replayed
        self._used[token] = issued + self._ttl_s
        while len(self._used) > self._max_used:
            self._used.popitem(last=False)
        return True

    def _forget_expired(self, now: float) -> None:
        while self._used:
            token, expires = next(iter(self._used.items()))
            if expires >= now:
                break
            del self._used[token]

    def _now(self) -> float:
        return self._clock.now().timestamp()


@dataclass(slots=True)
class MinuteCount:
    """One address's refused sign-ins within one minute."""

    minute: datetime
    failures: int = 0
    coalesced: int = 0  # failures past the threshold, counted in the summary row
    names: list[str] = field(default_factory=list)  # the last user names tried among them
    reasons: dict[str, int] = field(default_factory=dict)  # why they failed, counted
    summary_id: int | None = None  # the audit row that counts them, once written


class FailureCoalescer:
    """Counts refused sign-ins per client address per wall-clock minute (one node, in memory).

    `failed` says whether a failure gets its own audit row; if not, the caller takes `lock`,
    reads `current` and writes or updates the minute's summary row, so concurrent failures
    never write two summaries and the last update carries the latest count."""

    def __init__(self, clock: Clock, after: int = COALESCE_AFTER) -> None:
        self._clock = clock
        self._after = after
        self._minutes: dict[str, MinuteCount] = {}
        self.lock = asyncio.Lock()

    def failed(self, addr: str, username: str, reason: str) -> MinuteCount | None:
        """None: audit this failure on its own row. Else the minute it is counted in."""
        minute = self._clock.now().replace(second=0, microsecond=0)
        entry = self._minutes.get(addr)
        if entry is None or entry.minute != minute:
            if len(self._minutes) >= MAX_ADDRESSES:
                self._minutes = {a: m for a, m in self._minutes.items() if m.minute == minute}
            entry = self._minutes[addr] = MinuteCount(minute)
        entry.failures += 1
        if entry.failures <= self._after:
            return None
        entry.coalesced += 1
        entry.reasons[reason] = entry.reasons.get(reason, 0) + 1
        if username in entry.names:
            entry.names.remove(username)
        entry.names = [*entry.names, username][-SAMPLE_NAMES:]
        return entry
