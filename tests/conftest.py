"""Shared fixtures: real databases (SQLite file and a real PostgreSQL server), a manual clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from callboard.schema import metadata
from crm_core.clock import ManualClock
from crm_core.db import Database

PG_ADMIN_URL = os.environ.get(
    "CALLBOARD_TEST_PG_URL",
    "postgresql+asyncpg://callboard:callboard@127.0.0.1:5432/callboard_test",
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def sqlite_db(tmp_path) -> AsyncIterator[Database]:
    db = await Database.open(f"sqlite+aiosqlite:///{tmp_path / 'callboard.db'}")
    await db.create_schema(metadata())
    yield db
    await db.close()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A database of its own on the real PostgreSQL server, dropped at the end of the session."""
    import asyncio

    name = f"cb_test_{uuid.uuid4().hex[:12]}"
    base, _, _ = PG_ADMIN_URL.rpartition("/")

    async def admin(sql: str) -> None:
        engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(sql))
        finally:
            await engine.dispose()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}). The storage tests run against "
            "a real server: `make test` starts one; or set CALLBOARD_TEST_PG_URL."
        )
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def pg_db(pg_database_url: str) -> AsyncIterator[Database]:
    db = await Database.open(pg_database_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata().drop_all)
    await db.create_schema(metadata())
    yield db
    await db.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request) -> Database:
    """The storage contract runs against both backends."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")
