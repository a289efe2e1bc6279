"""Disposition codes as data: what administrators configure (code, labels, right party, what
must be given with it, its effect) and what the desk, the REST API and the rule read.

- The table `disposition_codes` is seeded with the built-in set by migration 0005; while it is
  empty (a schema built straight from the models) the built-in set applies.
- Codes are never deleted: a code in use by past calls is deactivated (`active` false), so the
  history keeps its meaning and the desk no longer offers it.
- Every change is audited (action `disposition_code`, before and after).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import audit
from crm_core.db import Database
from crm_core.dispositions import DEFAULT_DISPOSITIONS, DispositionCode, Effect, WrapUpError
from crm_core.models import DispositionDefinition

_CODE = re.compile(r"[a-z][a-z0-9_]{1,31}")
_FLAGS = ("right_party", "needs_promise", "needs_callback", "needs_arrangement", "active")


class CodeExists(ValueError):
    pass


def to_code(row: DispositionDefinition) -> DispositionCode:
    return DispositionCode(
        code=row.code,
        label_en=row.label_en,
        label_ru=row.label_ru,
        needs_promise=row.needs_promise,
        needs_callback=row.needs_callback,
        right_party=row.right_party,
        effect=Effect(row.effect),
        needs_arrangement=row.needs_arrangement,
    )


def to_dict(row: DispositionDefinition) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "label_en": row.label_en,
        "label_ru": row.label_ru,
        "right_party": row.right_party,
        "needs_promise": row.needs_promise,
        "needs_callback": row.needs_callback,
        "needs_arrangement": row.needs_arrangement,
        "effect": row.effect,
        "active": row.active,
        "position": row.position,
    }


async def rows(session: AsyncSession) -> list[DispositionDefinition]:
    query = select(DispositionDefinition).order_by(
        DispositionDefinition.position, DispositionDefinition.id
    )
    return list((await session.scalars(query)).all())


async def active(
    db: Database, fallback: tuple[DispositionCode, ...] = DEFAULT_DISPOSITIONS
) -> tuple[DispositionCode, ...]:
    """The codes the desk offers now: the table's active ones, or `fallback` when it is empty."""
    async with db.session() as session:
        found = await rows(session)
    if not found:
        return fallback
    return tuple(to_code(r) for r in found if r.active)


def _check(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if creating or "code" in body:
        code = body.get("code")
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise WrapUpError("code", "2-32 characters: a-z, 0-9 and _, starting with a letter")
        values["code"] = code
    for name in ("label_en", "label_ru"):
        if creating or name in body:
            label = body.get(name)
            if not isinstance(label, str) or not 1 <= len(label.strip()) <= 100:
                raise WrapUpError(name, "1-100 characters")
            values[name] = label.strip()
    for name in _FLAGS:
        if name in body:
            if not isinstance(body[name], bool):
                raise WrapUpError(name, "true or false")
            values[name] = body[name]
    if "effect" in body:
        try:
            values["effect"] = Effect(body["effect"] or "").value
        except ValueError:
            names = ", ".join(e.value for e in Effect if e.value)
            raise WrapUpError("effect", f"none or one of {names}") from None
    if "position" in body:
        if not isinstance(body["position"], int) or isinstance(body["position"], bool):
            raise WrapUpError("position", "a number")
        values["position"] = body["position"]
    if values.get("needs_promise") and values.get("needs_arrangement"):
        raise WrapUpError("needs_arrangement", "a code asks for a promise or an arrangement")
    return values


async def _seed_if_empty(session: AsyncSession, now: datetime) -> None:
    """The built-in set made explicit before the first change (so changing one code does not
    make the others disappear)."""
    if await rows(session):
        return
    for i, c in enumerate(DEFAULT_DISPOSITIONS):
        session.add(
            DispositionDefinition(
                code=c.code,
                label_en=c.label_en,
                label_ru=c.label_ru,
                right_party=c.right_party,
                needs_promise=c.needs_promise,
                needs_callback=c.needs_callback,
                needs_arrangement=c.needs_arrangement,
                effect=c.effect.value,
                active=True,
                position=(i + 1) * 10,
                updated_at=now,
            )
        )
    await session.flush()


async def create(
    session: AsyncSession, body: dict[str, Any], *, user_id: int, now: datetime, remote_addr: str
) -> DispositionDefinition:
    values = _check(body, creating=True)
    await _seed_if_empty(session, now)
    if await session.scalar(
        select(DispositionDefinition.id).where(DispositionDefinition.code == values["code"])
    ):
        raise CodeExists(f"disposition code {values['code']!r} exists")
    row = DispositionDefinition(
        **{
            "right_party": False,
            "needs_promise": False,
            "needs_callback": False,
            "needs_arrangement": False,
            "effect": "",
            "active": True,
            "position": 1000,
            **values,
        },
        updated_at=now,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise CodeExists(f"disposition code {values['code']!r} exists") from None
    audit.record(
        session,
        at=now,
        user_id=user_id,
        action="disposition_code",
        object_type="disposition_code",
        object_id=row.code,
        remote_addr=remote_addr,
        before=None,
        after=to_dict(row),
    )
    return row


async def update(
    session: AsyncSession,
    code: str,
    body: dict[str, Any],
    *,
    user_id: int,
    now: datetime,
    remote_addr: str,
) -> DispositionDefinition | None:
    """Changes a code (its `code` itself never changes: past calls name it)."""
    if "code" in body and body["code"] != code:
        raise WrapUpError("code", "a code is never renamed; create a new one, deactivate this")
    values = _check(body, creating=False)
    await _seed_if_empty(session, now)
    row = (
        await session.execute(
            select(DispositionDefinition).where(DispositionDefinition.code == code)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    before = to_dict(row)
    merged = {**before, **values}
    if merged["needs_promise"] and merged["needs_arrangement"]:
        raise WrapUpError("needs_arrangement", "a code asks for a promise or an arrangement")
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    await session.flush()
    audit.record(
        session,
        at=now,
        user_id=user_id,
        action="disposition_code",
        object_type="disposition_code",
        object_id=row.code,
        remote_addr=remote_addr,
        before=before,
        after=to_dict(row),
    )
    return row
