"""What a disposition does beyond the record, applied in the disposition's own transaction and
audited there (action `disposition_effect`):

- wrong_number: the call's number is unlinked from the contact (the link's row is deleted; the
  audit entry keeps it), so no campaign and no manual dial of that contact's debts uses it;
- dispute: the debt becomes `disputed` (the dialer's permanent `disputed` rule) until resolved;
- deceased: every open debt of the contact becomes `deceased`;
- bankrupt / attorney: the debt (the one named, else the call's, else every open debt of the
  contact) becomes `bankrupt` / `attorney`; the dialer's `debt_stopped` rule then refuses every
  dial of it, campaign or manual, and no override passes it;
- cease (a request to stop calling): every number of the contact goes on the global do-not-call
  list with the reason, source `disposition`.

A correction never undoes an effect silently: the new disposition's effect is applied (effects
are idempotent), the old one's stays in force, and when the old disposition had an effect the
new one does not repeat, a review task asks a supervisor to decide (take the number off the
list on the DNC page, resolve the dispute, restore the debt's status), each an explicit and
audited act. The correction's result and audit entry list the effects kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import audit, dnc
from crm_core.dispositions import DispositionCode, Effect, WrapUpError
from crm_core.models import CallDisposition, ContactPhone, Debt, DebtStatus, Interaction, Phone
from crm_core.tasks import create_review

OPEN_DEBTS = (DebtStatus.ACTIVE, DebtStatus.PROMISE, DebtStatus.LEGAL)
_STATUS = {
    Effect.DISPUTE: DebtStatus.DISPUTED,
    Effect.DECEASED: DebtStatus.DECEASED,
    Effect.BANKRUPT: DebtStatus.BANKRUPT,
    Effect.ATTORNEY: DebtStatus.ATTORNEY,
}


async def apply(
    session: AsyncSession,
    code: DispositionCode,
    interaction: Interaction,
    *,
    debt_id: int | None,
    user_id: int,
    now: datetime,
    remote_addr: str,
) -> dict[str, Any] | None:
    """Applies the code's effect; what it did (kept in the leg's result), None for no effect."""
    effect = Effect(code.effect)
    if effect is Effect.NONE:
        return None
    if effect is Effect.WRONG_NUMBER:
        done = await _wrong_number(session, interaction)
    elif effect is Effect.CEASE:
        done = await _cease(session, interaction, code, user_id, now, remote_addr)
    else:
        done = await _debt_status(session, interaction, effect, debt_id)
    done = {"effect": effect.value, **done}
    audit.record(
        session,
        at=now,
        user_id=user_id,
        action="disposition_effect",
        object_type="interaction",
        object_id=interaction.id,
        remote_addr=remote_addr,
        disposition=code.code,
        **done,
    )
    return done


async def _wrong_number(session: AsyncSession, interaction: Interaction) -> dict[str, Any]:
    phone = interaction.caller_number or ""
    if interaction.contact_id is None or not phone:
        return {"phone": phone, "unlinked": False, "why": "no contact or number on the call"}
    phone_id = await session.scalar(select(Phone.id).where(Phone.e164 == phone))
    link = (
        await session.get(ContactPhone, (interaction.contact_id, phone_id))
        if phone_id is not None
        else None
    )
    if link is None:
        return {"phone": phone, "contact_id": interaction.contact_id, "unlinked": False}
    kept = {"is_primary": link.is_primary, "source": link.source}
    await session.execute(
        delete(ContactPhone).where(
            ContactPhone.contact_id == interaction.contact_id, ContactPhone.phone_id == phone_id
        )
    )
    return {
        "phone": phone,
        "contact_id": interaction.contact_id,
        "unlinked": True,
        "link": kept,
    }


async def _debts(
    session: AsyncSession, interaction: Interaction, effect: Effect, debt_id: int | None
) -> list[Debt]:
    if interaction.contact_id is None:
        raise WrapUpError("disposition", "this call has no debtor: nothing to mark")
    open_debts = list(
        await session.scalars(
            select(Debt)
            .where(Debt.contact_id == interaction.contact_id, Debt.status.in_(OPEN_DEBTS))
            .order_by(Debt.id)
        )
    )
    if effect is Effect.DECEASED:
        return open_debts
    chosen = debt_id if debt_id is not None else interaction.debt_id
    if chosen is not None:
        debt = await session.get(Debt, chosen)
        if debt is None or debt.contact_id != interaction.contact_id:
            raise WrapUpError("debt_id", "not a debt of this caller")
        return [debt]
    if len(open_debts) <= 1 or effect is not Effect.DISPUTE:
        return open_debts
    raise WrapUpError("debt_id", "the caller has several debts: choose the one disputed")


async def _debt_status(
    session: AsyncSession, interaction: Interaction, effect: Effect, debt_id: int | None
) -> dict[str, Any]:
    target = _STATUS[effect]
    changed = []
    for debt in await _debts(session, interaction, effect, debt_id):
        if debt.status in (DebtStatus.PAID, DebtStatus.CLOSED) or debt.status is target:
            continue
        changed.append({"debt_id": debt.id, "from": str(debt.status), "to": target.value})
        debt.status = target
    await session.flush()
    return {"debts": changed}


async def _cease(
    session: AsyncSession,
    interaction: Interaction,
    code: DispositionCode,
    user_id: int,
    now: datetime,
    remote_addr: str,
) -> dict[str, Any]:
    actor = dnc.Actor(user_id, supervises=False, remote_addr=remote_addr)
    reason = f"cease request ({code.code}) on call {interaction.linkedid or interaction.id}"
    added: list[str] = []
    if interaction.contact_id is not None:
        added = await dnc.add_contact_numbers(
            session,
            interaction.contact_id,
            reason=reason,
            source="disposition",
            actor=actor,
            now=now,
            interaction_id=interaction.id,
        )
    phone = interaction.caller_number or ""
    if phone.startswith("+") and phone[1:].isdigit() and phone not in added:
        _, created = await dnc.add(
            session,
            phone=phone,
            scope=dnc.Scope(None),
            reason=reason,
            source="disposition",
            actor=actor,
            now=now,
            interaction_id=interaction.id,
        )
        if created:
            added.append(phone)
    return {"dnc_added": sorted(added)}


async def keep_on_correction(
    session: AsyncSession,
    leg: CallDisposition,
    before: dict[str, Any] | None,
    new_code: DispositionCode,
    interaction: Interaction,
    *,
    user_id: int,
    now: datetime,
) -> dict[str, Any] | None:
    """A correction away from a disposition whose effect the new one does not repeat: the effect
    stays, and a supervisor gets a review task to undo it explicitly if it was wrong."""
    if not before or before.get("effect") in (None, "", new_code.effect):
        return None
    task = await create_review(
        session,
        note=(
            f"The disposition of call {interaction.linkedid} was corrected from {leg.code!r} to "
            f"{new_code.code!r}. What {leg.code!r} did stays in force: {_describe(before)}. If it"
            " was wrong, undo it explicitly (do-not-call page, the debt's status)."
        ),
        now=now,
        contact_id=interaction.contact_id,
        debt_id=interaction.debt_id,
        phone=interaction.caller_number or "",
        about_user_id=leg.user_id,
        created_by=user_id,
    )
    return {"kept": before, "review_task_id": task.id}


def _describe(done: dict[str, Any]) -> str:
    effect = done.get("effect")
    if effect == Effect.WRONG_NUMBER:
        return f"{done.get('phone')} unlinked from the contact" if done.get("unlinked") else "none"
    if effect == Effect.CEASE:
        return "on do-not-call: " + (", ".join(done.get("dnc_added") or []) or "nothing new")
    debts = done.get("debts") or []
    return ", ".join(f"debt {d['debt_id']} {d['from']} -> {d['to']}" for d in debts) or "none"
