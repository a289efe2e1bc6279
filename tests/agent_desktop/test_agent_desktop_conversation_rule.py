"""A right-party disposition on any call reaches the attempt ledger: the quiet week after a
conversation then refuses manual dials (and the dialer) with the rule named."""

from __future__ import annotations

from typing import Any

from crm_core.interactions import InteractionLog
from tests.agent_desktop.test_agent_desktop_campaigns_dial import dial, manual_attempts


async def wrap(client: Any, csrf: str, linkedid: str, code: str, key: str) -> Any:
    return await client.post(
        "/desk/wrapup",
        json={"key": key, "linkedid": linkedid, "disposition": code, "notes": ""},
        headers={"X-CSRF-Token": csrf},
    )


async def test_an_inbound_right_party_call_starts_the_quiet_week(env, client, sign_in) -> None:
    log = InteractionLog(env.db)
    await log.call_started(
        "in-1",
        started_at=env.clock.now(),
        caller_number="+447911123456",
        contact_id=env.contact_id,
    )
    await log.call_updated("in-1", at=env.clock.now(), agent_id=env.users["op1"])
    csrf = await sign_in(client, "op1")
    saved = await wrap(client, csrf, "in-1", "rpc", "key-00000001")
    assert saved.status == 200, await saved.text()
    refused = await dial(client, csrf)
    assert refused.status == 409
    assert (await refused.json())["error"]["details"]["denials"][0]["rule"] == "after_conversation"


async def test_a_manual_dial_right_party_marks_its_attempt(env, client, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    call_id = (await (await dial(client, csrf)).json())["call_id"]
    saved = await wrap(client, csrf, call_id, "refused", "key-00000002")
    assert saved.status == 200, await saved.text()
    [attempt] = await manual_attempts(env)
    assert attempt.right_party_contact is True and attempt.inbound is False
