"""Sessions follow the account: a user disabled (or deleted) or whose password changed outside
this process (`callboard user disable|passwd`, another web node) loses their sessions here too.

The web admin API ends the sessions itself at once; the command line cannot reach the node's
in-memory session store, so every `CHECK_EVERY_S` seconds the node reads the accounts of the
users who have sessions: an inactive or missing account ends all its sessions (which closes
their websockets) and takes the agent off duty; a password changed since a session signed in
ends that session. A session created without a credential mark (tests, tools) is checked for
activity only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from agent_desktop.duty import take_off_duty
from agent_desktop.keys import DesktopDeps
from agent_desktop.ports import agent_id_for
from agent_desktop.sessions import SessionStore
from crm_core.models import User

log = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0


def credential_mark(password_hash: str) -> str:
    """What a session remembers of the password it signed in with (never the hash itself)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


async def check_accounts(deps: DesktopDeps, sessions: SessionStore) -> int:
    """One pass; returns how many sessions it ended."""
    marks = sessions.credentials()
    if not marks:
        return 0
    async with deps.db.session() as session:
        rows = await session.execute(
            select(User.id, User.active, User.password_hash).where(User.id.in_(marks))
        )
        accounts = {user_id: (active, password_hash) for user_id, active, password_hash in rows}
    ended = 0
    for user_id, by_session in marks.items():
        active, password_hash = accounts.get(user_id, (False, ""))
        if not active:
            count = sessions.end_user(user_id)
            ended += count
            log.info("user %s is disabled: %d session(s) ended", user_id, count)
            await take_off_duty(deps, agent_id_for(user_id))
            continue
        current = credential_mark(password_hash)
        for sid, mark in by_session.items():
            if mark and mark != current:
                sessions.end(sid)
                ended += 1
                log.info("user %s changed password: a session signed in before ended", user_id)
    return ended


async def watch_accounts(deps: DesktopDeps, sessions: SessionStore) -> None:
    """Runs until cancelled; a failed pass (database away) is logged and tried again."""
    while True:
        await asyncio.sleep(CHECK_EVERY_S)
        try:
            await check_accounts(deps, sessions)
        except SQLAlchemyError:
            log.exception("account check failed; trying again in %.0f s", CHECK_EVERY_S)
