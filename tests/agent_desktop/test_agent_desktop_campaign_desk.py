"""The desk's campaign endpoints over HTTP: without a dialer, for the wrong role, bad input."""

from __future__ import annotations


async def test_without_a_dialer_the_campaign_bar_is_unavailable(client, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    assert (await client.get("/desk/campaign")).status == 503
    joined = await client.post(
        "/desk/campaign/join", json={"campaign_id": 1}, headers={"X-CSRF-Token": csrf}
    )
    assert joined.status == 503


async def test_only_a_supervisor_makes_an_operator_blended(client, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    url = "/api/campaigns/1/operators/1/blended"
    refused = await client.post(url, json={"blended": True}, headers={"X-CSRF-Token": csrf})
    assert refused.status == 403


async def test_blended_must_be_true_or_false(client, sign_in) -> None:
    csrf = await sign_in(client, "sup")
    url = "/api/campaigns/1/operators/1/blended"
    bad = await client.post(url, json={"blended": "yes"}, headers={"X-CSRF-Token": csrf})
    assert bad.status == 422
