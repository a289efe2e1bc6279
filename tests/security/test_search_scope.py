"""Finding 4 (medium): every search hit became a card the operator could open until restart;
676 two-letter searches listed 1,080 contacts and opened any of them, with no audit of the
searches and no rate. Now a query needs 3 letters, 4 digits or an exact account reference
(else 422); an operator gets a page of 20 hits with masked numbers; opening a hit's card needs
a purpose, is audited with the query, and makes a grant per (operator, contact) that expires
after 30 minutes, at most 20 at once; searches are audited and limited to 30 per 10 minutes
per operator (supervisors and admins: 100 hits, 120 searches), 429 with Retry-After."""

from __future__ import annotations

from dataclasses import replace
from itertools import product
from string import ascii_lowercase

from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.app import create_app
from crm_core.models import Contact
from tests.security.support import audit_rows

NAMES = ["Abbott", "Baker", "Carter", "Dawson", "Ellis", "Foster", "Graham", "Hughes"]


async def seed_debtors(env, names: list[str]) -> list[int]:
    now = env.clock.now()
    async with env.db.session() as s:
        contacts = [
            Contact(first_name=f"Debtor{i}", last_name=name, created_at=now, updated_at=now)
            for i, name in enumerate(names)
        ]
        s.add_all(contacts)
        await s.commit()
        return [c.id for c in contacts]


async def sign_in_as(client, sign_in, username: str) -> None:
    client.session.cookie_jar.clear()  # another user, a fresh session
    await sign_in(client, username)


async def card(client, contact_id: int, purpose: str | None = None):
    params = {"purpose": purpose} if purpose else {}
    return await client.get(f"/api/contacts/{contact_id}/card", params=params)


async def test_many_short_searches_harvest_no_cards(client, env, sign_in) -> None:
    ids = await seed_debtors(env, NAMES * 3)
    await sign_in(client, "op1")
    statuses, found = [], set()
    for a, b in list(product(ascii_lowercase, repeat=2))[:40]:
        response = await client.get("/api/contacts", params={"q": a + b})
        statuses.append(response.status)
        if response.status == 200:
            found |= {h["contact_id"] for h in (await response.json())["items"]}
        elif response.status == 422:
            error = (await response.json())["error"]
            assert error["code"] == "search.query_too_short"
            assert "3 letters" in error["message"]
    assert found == set()
    assert statuses[:30] == [422] * 30  # refused, and counted
    assert statuses[30:] == [429] * 10
    opened = [
        i for i in [*ids, env.contact_id] if (await card(client, i, "callback")).status == 200
    ]
    assert opened == []
    searches = await audit_rows(env, "search")
    assert len(searches) == 30  # every search the server ran, refused ones too
    assert searches[0].user_id == env.users["op1"]
    assert searches[0].detail == {"query": "aa", "hits": 0, "refused": "too_short"}


async def test_a_hit_identifies_and_its_card_opens_with_a_purpose(client, env, sign_in) -> None:
    await sign_in(client, "op1")
    response = await client.get("/api/contacts", params={"q": "07911 123456"})
    assert response.status == 200
    (hit,) = (await response.json())["items"]
    assert hit == {
        "contact_id": env.contact_id,
        "name": "Ivan Petrov",
        "phones": ["•" * 9 + "456"],  # +447911123456
        "references": ["NW-778812"],
    }
    (search,) = await audit_rows(env, "search")
    assert search.detail == {"query": "07911 123456", "hits": 1}
    # a hit is not a card: it opens with a purpose from the list
    needs = await card(client, env.contact_id)
    assert needs.status == 422
    assert (await needs.json())["error"]["details"]["choices"] == [
        "caller_on_line",
        "callback",
        "payment",
    ]
    assert (await card(client, env.contact_id, "curiosity")).status == 422
    assert (await card(client, env.contact_id, "payment")).status == 200
    assert (await card(client, env.contact_id)).status == 200  # granted for a while
    views = [r.detail for r in await audit_rows(env, "view") if r.remote_addr]
    assert views == [{"reason": "search", "purpose": "payment", "query": "07911 123456"}] * 2
    # a contact never found by a search stays closed, whatever the purpose
    assert (await card(client, env.xss_contact_id, "caller_on_line")).status == 403


async def test_an_exact_account_reference_may_be_short(client, env, sign_in) -> None:
    now = env.clock.now()
    async with env.db.session() as s:
        short = Contact(first_name="Ann", last_name="Lee", external_ref="K7", created_at=now,
                        updated_at=now)  # fmt: skip
        s.add(short)
        await s.commit()
    await sign_in(client, "op1")
    found = await client.get("/api/contacts", params={"q": "K7"})
    assert found.status == 200
    assert [h["contact_id"] for h in (await found.json())["items"]] == [short.id]
    assert (await client.get("/api/contacts", params={"q": "K8"})).status == 422
    assert (await client.get("/api/contacts", params={"q": "Lee"})).status == 200


async def test_operators_get_a_small_page_and_supervisors_a_wider_one(client, env, sign_in) -> None:
    await seed_debtors(env, ["Smithson"] * 30)
    await sign_in(client, "op1")
    page = await (await client.get("/api/contacts", params={"q": "smithson"})).json()
    assert len(page["items"]) == 20
    await sign_in_as(client, sign_in, "sup")
    wide = await client.get("/api/contacts", params={"q": "smithson"})
    assert len((await wide.json())["items"]) == 30
    searches = await audit_rows(env, "search")
    assert [(r.user_id, r.detail["hits"]) for r in searches] == [
        (env.users["op1"], 20),
        (env.users["sup"], 30),
    ]


async def test_searches_are_rate_limited_per_user(client, env, sign_in) -> None:
    await sign_in(client, "op1")
    for _ in range(30):
        assert (await client.get("/api/contacts", params={"q": "Petrov"})).status == 200
    over = await client.get("/api/contacts", params={"q": "Petrov"})
    assert over.status == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 601
    env.clock.advance(601)
    assert (await client.get("/api/contacts", params={"q": "Petrov"})).status == 200
    await sign_in_as(client, sign_in, "admin")  # supervisors and admins: 120
    for _ in range(31):
        assert (await client.get("/api/contacts", params={"q": "Petrov"})).status == 200


async def test_search_grants_are_bounded_and_expire(env, desk_deps, sign_in) -> None:
    from crm_core.config import PrivacySettings, Settings  # [privacy] came with the fix

    ids = await seed_debtors(env, ["Grantley"] * 4)
    privacy = replace(PrivacySettings(), search_grants_max=3)
    app = create_app(desk_deps(env, settings=Settings(privacy=privacy)))
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, "op1")
        assert (await client.get("/api/contacts", params={"q": "grantley"})).status == 200
        assert [(await card(client, i, "callback")).status for i in ids] == [200, 200, 200, 429]
        over = await card(client, ids[3], "callback")
        assert int(over.headers["Retry-After"]) >= 1
        assert (await card(client, ids[0])).status == 200  # a live grant
        env.clock.advance(1801)  # grants and hits expire
        assert (await card(client, ids[0])).status == 403
        assert (await card(client, ids[3], "callback")).status == 403
        # another operator never had them
        await sign_in_as(client, sign_in, "op2")
        assert (await card(client, ids[0], "callback")).status == 403
