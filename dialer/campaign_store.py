"""Defining campaigns: create, edit and clone, the same for every edge (the TOML file of
`callboard campaign create`, the supervisors' editor and the REST API).

One validator (`dialer.settings.define_campaign`: read as the dialer reads it, refused when it
loosens a legal default), one mapping between a row and its settings (`CampaignRow.
campaign_settings` / `CampaignRow.stored`) and these rules:

- names are unique, up to case, and never those of the ledger's own rows (manual dials,
  inbound conversations);
- a running campaign is not edited: pause (or stop) it first. The saved settings are then
  handed to the campaign's dialer (`CampaignDialer.apply_settings`) and dial from the resume,
  without a restart;
- a clone is a new, stopped campaign with the source's settings under a new name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm_core.db import Database
from dialer.campaign import CampaignError, CampaignState, CampaignStateError
from dialer.conversations import INBOUND_CAMPAIGN
from dialer.manual import MANUAL_CAMPAIGN
from dialer.settings import MAX_NAME, CampaignSettings, CampaignSettingsError, define_campaign
from dialer.tables import CampaignRow

RESERVED_NAMES = frozenset({MANUAL_CAMPAIGN, INBOUND_CAMPAIGN})


class CampaignNotFound(CampaignError):
    pass


class CampaignNameTaken(CampaignSettingsError):
    """A definition whose name another campaign has: a bad `name`, like any bad setting."""

    def __init__(self, name: str, why: str = "is taken by another campaign") -> None:
        super().__init__(name, "name", why)


class CampaignRunning(CampaignStateError):
    pass


@dataclass(frozen=True, slots=True)
class Saved:
    """A campaign as written: its settings, and its stored form before and after (audit)."""

    id: int
    settings: CampaignSettings
    state: str
    before: dict[str, Any] | None
    after: dict[str, Any]


def definition(row: CampaignRow) -> dict[str, Any]:
    """The definition the editor shows and sends back: every setting, the name included. A
    stored definition the dialer cannot read is shown as stored (the editor names the fault)."""
    try:
        return row.campaign_settings().to_dict()
    except CampaignError:
        return {**(row.settings or {}), "name": row.name}


async def load(db: Database, campaign_id: int) -> CampaignRow:
    async with db.session() as session:
        row = await session.get(CampaignRow, campaign_id)
    if row is None or row.name in RESERVED_NAMES:
        raise CampaignNotFound(f"campaign {campaign_id} not found")
    return row


async def create_campaign(
    db: Database, data: Mapping[str, Any], now: datetime, *, reason: str = "created"
) -> Saved:
    """A new, stopped campaign from a definition; CampaignSettingsError names a bad setting."""
    settings = define_campaign(data)
    stored = CampaignRow.stored(settings)
    async with db.session() as session:
        await _check_name(session, settings.name, None)
        row = CampaignRow(
            name=settings.name,
            state=CampaignState.STOPPED.value,
            state_reason=reason,
            settings=stored,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        try:
            await session.commit()
        except IntegrityError as exc:  # another writer took the name meanwhile
            raise CampaignNameTaken(settings.name) from exc
        return Saved(row.id, settings, row.state, None, settings.to_dict())


async def edit_campaign(
    db: Database,
    campaign_id: int,
    data: Mapping[str, Any],
    now: datetime,
    *,
    live_state: CampaignState | None = None,
) -> Saved:
    """Replaces a campaign's definition (a rename included). `live_state` is the state of the
    campaign's dialer when one runs in this process (it wins over the row's)."""
    settings = define_campaign(data)
    async with db.session() as session:
        row = await session.get(CampaignRow, campaign_id)
        if row is None or row.name in RESERVED_NAMES:
            raise CampaignNotFound(f"campaign {campaign_id} not found")
        state = live_state.value if live_state is not None else row.state
        if state == CampaignState.RUNNING.value:
            raise CampaignRunning(
                f"campaign {row.name!r} is running: pause it before editing its settings"
            )
        await _check_name(session, settings.name, campaign_id)
        before = definition(row)
        row.name = settings.name
        row.settings = CampaignRow.stored(settings)
        row.updated_at = now
        try:
            await session.commit()
        except IntegrityError as exc:
            raise CampaignNameTaken(settings.name) from exc
        return Saved(campaign_id, settings, state, before, settings.to_dict())


async def clone_campaign(
    db: Database, campaign_id: int, now: datetime, *, name: str | None = None
) -> Saved:
    """A new, stopped campaign with the settings of another; the name defaults to
    "<source> (copy)", "<source> (copy 2)", ..."""
    source = await load(db, campaign_id)
    data = definition(source)
    if name is None:
        async with db.session() as session:
            for n in range(1, 100):
                suffix = " (copy)" if n == 1 else f" (copy {n})"
                name = f"{source.name[: MAX_NAME - len(suffix)]}{suffix}"
                if not await _taken(session, name, None):
                    break
    return await create_campaign(
        db, {**data, "name": name}, now, reason=f"cloned from {source.name!r}"
    )


async def _taken(session: Any, name: str, campaign_id: int | None) -> bool:
    query = select(CampaignRow.id).where(func.lower(CampaignRow.name) == name.lower())
    if campaign_id is not None:
        query = query.where(CampaignRow.id != campaign_id)
    return await session.scalar(query.limit(1)) is not None


async def _check_name(session: Any, name: str, campaign_id: int | None) -> None:
    if name.lower() in {n.lower() for n in RESERVED_NAMES}:
        raise CampaignNameTaken(name, "is reserved for the attempt ledger's own rows")
    if await _taken(session, name, campaign_id):
        raise CampaignNameTaken(name)


async def listing(db: Database) -> list[tuple[int, str, str]]:
    """Every campaign a supervisor may edit: (id, name, stored state), by name."""
    query = (
        select(CampaignRow.id, CampaignRow.name, CampaignRow.state)
        .where(CampaignRow.name.not_in(RESERVED_NAMES))
        .order_by(CampaignRow.name)
    )
    async with db.session() as session:
        return [(i, n, s) for i, n, s in (await session.execute(query)).all()]
