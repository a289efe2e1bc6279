"""Manual dial: nothing is dialled unchecked, check-and-record is atomic, attempts get outcomes.
Real app, real SQLite database; the Switch records its AMI actions."""

from __future__ import annotations

import asyncio
from dataclasses import fields, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from agent_desktop.app import create_app
from ami_bridge import events as ami_events
from ami_bridge.events import CallBridged, CallEnded, LegEnded
from crm_core.config import ConfigError, Settings, load_settings
from crm_core.models import AuditEntry, Contact, ContactPhone, Debt, Phone
from dialer.attempts import AttemptOutcome
from dialer.tables import DialAttemptRow
from tests.agent_desktop.conftest import deps_for
from tests.agent_desktop.test_agent_desktop_campaigns_dial import (
    E164,
    manual_attempts,
    past_attempts,
)
from tests.waiting import eventually

US = "+13104413956"  # Los Angeles


async def settled_attempt(env: Any) -> DialAttemptRow:
    """The one manual attempt, once the dialer (behind the bus) has written its end."""

    async def ended() -> DialAttemptRow | None:
        [attempt] = await manual_attempts(env)
        return attempt if attempt.ended_at is not None else None

    return await eventually(ended, what="the manual attempt settled")


async def seed_us_debtor(env: Any) -> int:
    now = env.clock.now()
    async with env.db.session() as s:
        contact = Contact(
            first_name="Jo",
            last_name="Doe",
            timezone="America/Los_Angeles",
            created_at=now,
            updated_at=now,
        )
        phone = Phone(e164=US, raw=US)
        s.add_all([contact, phone])
        await s.flush()
        s.add(ContactPhone(contact_id=contact.id, phone_id=phone.id, is_primary=True))
        debt = Debt(
            contact_id=contact.id,
            creditor="Acme",
            reference="US-1",
            principal=Decimal("100.00"),
            balance=Decimal("100.00"),
            currency="USD",
            due_date=date(2026, 1, 1),
            created_at=now,
        )
        s.add(debt)
        await s.commit()
        return debt.id


async def dial(client: Any, csrf: str, number: str) -> Any:
    return await client.post(
        "/desk/call/dial", json={"number": number}, headers={"X-CSRF-Token": csrf}
    )


async def audit_rows(env: Any) -> list[AuditEntry]:
    async with env.db.session() as s:
        query = select(AuditEntry).where(
            AuditEntry.action.in_(("manual_dial", "dial_denied", "dial_override"))
        )
        return list((await s.scalars(query.order_by(AuditEntry.id))).all())


@pytest.mark.parametrize(
    "number, status, code",
    [
        ("+13104413956", 409, "dial.denied"),
        ("0013104413956", 409, "dial.denied"),  # 00: the international prefix in GB
        ("13104413956", 422, "dial.invalid_number"),
        ("01113104413956", 422, "dial.invalid_number"),  # 011 is the US prefix, not GB's
        ("+1310441395600", 422, "dial.invalid_number"),
    ],
)
async def test_a_us_debtor_at_dawn_is_never_dialled_however_written(
    env, client, sign_in, number, status, code
) -> None:
    await seed_us_debtor(env)
    env.clock.advance(timedelta(hours=4, minutes=7).total_seconds())  # 06:07 in Los Angeles
    csrf = await sign_in(client, "op1")
    response = await dial(client, csrf, number)
    body = await response.json()
    assert (response.status, body["error"]["code"]) == (status, code), body
    if status == 409:
        assert body["error"]["details"]["denials"][0]["rule"] == "calling_hours"
    else:
        assert "not an internal extension nor a valid number in GB" in body["error"]["message"]
    assert env.port.sent == []
    [entry] = await audit_rows(env)
    assert entry.detail["allowed"] is False and entry.detail["number"] == number


async def test_a_number_written_without_its_plus_is_explained(env, client, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    body = await (await dial(client, csrf, "13104413956")).json()
    assert "+13104413956" in body["error"]["message"]


async def test_extensions_come_from_configuration_and_are_audited(env, sign_in) -> None:
    settings = Settings()
    closed = replace(settings, center=replace(settings.center, internal_extensions=[]))
    async with TestClient(TestServer(create_app(deps_for(env, settings=closed)))) as client:
        csrf = await sign_in(client, "op1")
        refused = await dial(client, csrf, "2001")
        assert refused.status == 422
        assert env.port.sent == []
    async with TestClient(TestServer(create_app(deps_for(env)))) as client:
        csrf = await sign_in(client, "op1")
        assert (await dial(client, csrf, "2001")).status == 200
    _, headers = env.port.sent[0]
    assert headers["Data"] == "Local/2001@pstn-sim"
    refused_entry, allowed_entry = await audit_rows(env)
    assert (refused_entry.action, refused_entry.detail["allowed"]) == ("manual_dial", False)
    assert (allowed_entry.action, allowed_entry.detail["allowed"]) == ("manual_dial", True)
    assert allowed_entry.detail["kind"] == "extension"


def test_extension_patterns_are_validated_at_start_up(tmp_path) -> None:
    path = tmp_path / "callboard.toml"
    for bad in ('["[0-9"]', '[".*"]', '["[0-9]+"]', '["[0-9]*"]'):
        path.write_text(f"[center]\ninternal_extensions = {bad}\n")
        with pytest.raises(ConfigError, match="internal_extensions"):
            load_settings(path, environ={})
    path.write_text('[center]\ninternal_extensions = ["2[0-9]{3}", "9[0-9]{2}"]\n')
    assert load_settings(path, environ={}).center.internal_extensions == ["2[0-9]{3}", "9[0-9]{2}"]


async def test_the_checked_number_is_dialled_and_filed_with_audit(env, client, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    response = await dial(client, csrf, "0044 7911 123456")
    assert response.status == 200, await response.text()
    call_id = (await response.json())["call_id"]
    [(_action, headers)] = env.port.sent
    assert headers["Data"] == f"Local/{E164}@pstn-sim"
    assert headers["ChannelId"] == call_id
    [attempt] = await manual_attempts(env)
    assert attempt.call_id == call_id
    [entry] = await audit_rows(env)
    assert entry.detail["attempts"] == [attempt.attempt_id]


async def test_two_simultaneous_dials_cannot_both_pass_the_weekly_cap(env, client, sign_in) -> None:
    await past_attempts(env, 6)  # one attempt left this week...
    async with env.db.session() as s:  # ...spread over the week (the daily cap stays open)
        for i, row in enumerate(await s.scalars(select(DialAttemptRow))):
            row.started_at = env.clock.now() - timedelta(hours=25 * (i + 1))
        await s.commit()
    csrf = await sign_in(client, "op1")
    first, second = await asyncio.gather(
        dial(client, csrf, "07911 123456"), dial(client, csrf, "07911 123456")
    )
    assert sorted([first.status, second.status]) == [200, 409]
    assert len(await manual_attempts(env)) == 1


def call_ended(linkedid: str, at: Any, cause: int) -> CallEnded:
    """A CallEnded with whatever fields the event has (it grows now and then)."""
    known = {f.name for f in fields(CallEnded)}
    values = dict(
        linkedid=linkedid,
        at=at,
        cause=cause,
        cause_text="",
        duration_s=120.0,
        talk_s=115.0,
        reason=getattr(getattr(ami_events, "EndReason", None), "HANGUP", None),
    )
    return CallEnded(**{k: v for k, v in values.items() if k in known})


async def test_a_manual_attempt_gets_its_outcome_from_the_call(env, client, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    response = await dial(client, csrf, "07911 123456")
    call_id = (await response.json())["call_id"]
    answered = env.clock.now() + timedelta(seconds=5)
    ended = answered + timedelta(minutes=2)
    env.bus.publish(
        CallBridged(linkedid=call_id, at=answered, bridge_id="b1", channel="x", parties=("x", "y"))
    )
    env.bus.publish(call_ended(call_id, ended, 16))
    attempt = await settled_attempt(env)
    assert attempt.outcome == AttemptOutcome.HUMAN.value
    assert attempt.answered_at == answered and attempt.ended_at == ended
    assert attempt.agent_id == str(env.users["op1"])


async def test_a_manual_call_the_debtor_never_answered_gets_the_network_cause(
    env, client, sign_in
) -> None:
    """An unanswered manual call is no call for the tracker (the operator's leg alone): it ends
    with LegEnded, whose cause is the debtor side's, and the attempt gets its outcome."""
    csrf = await sign_in(client, "op1")
    response = await dial(client, csrf, "07911 123456")
    call_id = (await response.json())["call_id"]
    ended = env.clock.now() + timedelta(seconds=20)
    env.bus.publish(
        LegEnded(
            linkedid=call_id,
            at=ended,
            cause=17,
            cause_text="User busy",
            reason=ami_events.EndReason.HANGUP,
        )
    )
    attempt = await settled_attempt(env)
    assert attempt.outcome == AttemptOutcome.BUSY.value
    assert attempt.answered_at is None and attempt.ended_at == ended


async def test_a_manual_dial_the_operator_never_answered_is_not_dialled(
    env, client, sign_in
) -> None:
    """The debtor was never rung: on record, but not an attempt for the caps."""

    async def unanswered(headers, *, reply_timeout=None, result_timeout):
        await env.port._record("Originate", headers)
        return {"Response": "Failure", "Reason": "3", "Channel": dict(headers)["Channel"]}

    env.port.originate = unanswered  # type: ignore[method-assign]
    csrf = await sign_in(client, "op1")
    response = await dial(client, csrf, "07911 123456")
    assert (await response.json())["ok"] is False
    [attempt] = await manual_attempts(env)
    assert attempt.outcome == AttemptOutcome.NOT_DIALLED.value and attempt.ended_at is not None
