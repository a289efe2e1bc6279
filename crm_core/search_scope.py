"""Contact search identifies a caller; it does not open the debtor base.

The rule (SECURITY.md, *contact search*), the same for the desk and the REST API:

- a query needs `search_min_letters` letters, or `search_min_digits` digits, or to be an exact
  account reference (a debt's or a contact's); anything shorter is refused;
- a search answers at most a page of hits (`search_page_operator`, wider for supervisors and
  admins), each only what identifies a caller: name, masked numbers, debt references;
- searches are counted per user in a sliding window (`search_rate_*`), beyond which they wait;
- a hit is not a card: an operator opens a hit's card within `search_grant_ttl_s` of the search
  and with a purpose from `PURPOSES`; that makes a grant for this (operator, contact) that
  expires after the same time, and an operator holds at most `search_grants_max` of them.

In-memory and per node, like the sign-in throttle: a restart forgets hits and grants (the
operator searches again) and counts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from crm_core.clock import Clock
from crm_core.config import PrivacySettings

# why an operator opens a card found by a search (audited with the query)
PURPOSES = ("caller_on_line", "callback", "payment")
HITS_KEPT = 200  # recent hits remembered per user (the oldest are forgotten first)


class SearchRefused(Exception):
    """The search or the opening is refused; `retry_after` > 0 when it is a matter of time."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def long_enough(query: str, privacy: PrivacySettings) -> bool:
    """Whether a query says enough of a name or a number to search by it (an exact account
    reference is the other way in, checked against the database)."""
    letters = sum(1 for c in query if c.isalpha())
    digits = sum(1 for c in query if c.isdecimal())
    return letters >= privacy.search_min_letters or digits >= privacy.search_min_digits


def too_short_message(privacy: PrivacySettings) -> str:
    return (
        f"type at least {privacy.search_min_letters} letters of a name, "
        f"{privacy.search_min_digits} digits of a number, or an exact account reference"
    )


def mask_number(e164: str) -> str:
    """Enough of a number to tell two hits apart with the caller (its last 3 digits)."""
    digits = [c for c in e164 if c.isdigit()]
    return "•" * max(0, len(digits) - 3) + "".join(digits[-3:])


@dataclass(slots=True)
class _Hit:
    query: str
    until: float


@dataclass(slots=True)
class _Grant:
    query: str
    purpose: str
    until: float


class SearchScope:
    """Per-user search counts, recent hits and the cards opened from them."""

    def __init__(self, clock: Clock, privacy: PrivacySettings) -> None:
        self._clock = clock
        self.privacy = privacy
        self._searches: dict[int, deque[float]] = {}
        self._hits: dict[int, dict[int, _Hit]] = {}
        self._grants: dict[int, dict[int, _Grant]] = {}

    def page(self, wide: bool) -> int:
        p = self.privacy
        return p.search_page_supervisor if wide else p.search_page_operator

    def admit(self, user_id: int, wide: bool) -> None:
        """Counts one search by this user, or refuses it (`SearchRefused` with retry_after)."""
        p = self.privacy
        now = self._clock.monotonic()
        window = self._searches.setdefault(user_id, deque())
        while window and window[0] <= now - p.search_rate_window_s:
            window.popleft()
        limit = p.search_rate_supervisor if wide else p.search_rate_operator
        if len(window) >= limit:
            wait = window[0] + p.search_rate_window_s - now
            raise SearchRefused(
                f"at most {limit} searches per {int(p.search_rate_window_s) // 60} minutes",
                retry_after=max(wait, 1.0),
            )
        window.append(now)

    def found(self, user_id: int, query: str, contact_ids: list[int]) -> None:
        """These hits may be opened, with a purpose, for a while."""
        until = self._clock.monotonic() + self.privacy.search_grant_ttl_s
        hits = self._hits.setdefault(user_id, {})
        for contact_id in contact_ids:
            hits.pop(contact_id, None)
            hits[contact_id] = _Hit(query, until)
        while len(hits) > HITS_KEPT:
            del hits[next(iter(hits))]

    def hit(self, user_id: int, contact_id: int) -> str | None:
        """The query that found this contact for this user lately, if one did."""
        hit = self._hits.get(user_id, {}).get(contact_id)
        if hit is None or hit.until <= self._clock.monotonic():
            return None
        return hit.query

    def granted(self, user_id: int, contact_id: int) -> dict[str, str] | None:
        """The audit context of a live grant (a card this user opened from a search)."""
        grant = self._live_grants(user_id).get(contact_id)
        if grant is None:
            return None
        return {"reason": "search", "purpose": grant.purpose, "query": grant.query}

    def open(self, user_id: int, contact_id: int, purpose: str) -> dict[str, str]:
        """Opens a hit's card for a purpose: a grant, bounded in number and time. Raises
        `LookupError` if no recent search found this contact, `ValueError` for a purpose not in
        `PURPOSES`, `SearchRefused` when the user holds as many grants as allowed."""
        query = self.hit(user_id, contact_id)
        if query is None:
            raise LookupError(contact_id)
        if purpose not in PURPOSES:
            raise ValueError(purpose)
        grants = self._live_grants(user_id)
        if contact_id not in grants and len(grants) >= self.privacy.search_grants_max:
            wait = min(g.until for g in grants.values()) - self._clock.monotonic()
            raise SearchRefused(
                f"at most {self.privacy.search_grants_max} cards opened from searches at once",
                retry_after=max(wait, 1.0),
            )
        grants[contact_id] = _Grant(
            query, purpose, self._clock.monotonic() + self.privacy.search_grant_ttl_s
        )
        return {"reason": "search", "purpose": purpose, "query": query}

    def _live_grants(self, user_id: int) -> dict[int, _Grant]:
        now = self._clock.monotonic()
        grants = self._grants.setdefault(user_id, {})
        for contact_id in [c for c, g in grants.items() if g.until <= now]:
            del grants[contact_id]
        return grants
