"""Start-up and shutdown leave nothing behind; the interface follows the user's language;
the demo users can sign in."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from agent_desktop.app import create_app
from agent_desktop.demo import DEMO_USERS, seed_demo_users
from crm_core.auth import verify_password
from crm_core.models import User


async def test_the_app_stops_every_task_it_started(env, desk_deps, sign_in) -> None:
    before = asyncio.all_tasks()
    client = TestClient(TestServer(create_app(desk_deps(env))))
    await client.start_server()
    await sign_in(client, "op1")
    origin = str(client.make_url("/")).rstrip("/")
    ws = await client.ws_connect("/ws?page=desk", headers={"Origin": origin})
    await client.close()  # with the websocket still open: shutdown closes it
    assert ws.closed or (await ws.receive()).type.name in ("CLOSE", "CLOSED", "CLOSING")
    await asyncio.sleep(0)
    leftover = {t for t in asyncio.all_tasks() - before if not t.done()}
    assert leftover == set()


async def test_russian_users_get_a_russian_desk(client, sign_in) -> None:
    await sign_in(client, "op2")
    html = await (await client.get("/")).text()
    assert 'lang="ru"' in html
    assert "Готов" in html and "Результат" in html


async def test_demo_users_are_created_once_with_their_printed_passwords(sqlite_db) -> None:
    created = await seed_demo_users(sqlite_db)
    assert [u.username for u in created] == [u.username for u in DEMO_USERS]
    assert await seed_demo_users(sqlite_db) == []  # already there: nothing new
    async with sqlite_db.session() as session:
        operator = (
            await session.execute(select(User).where(User.username == "operator1"))
        ).scalar_one()
    assert verify_password(DEMO_USERS[0].password, operator.password_hash)
