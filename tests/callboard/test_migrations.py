"""The migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from callboard.migrate import alembic_config, upgrade


def test_migrations_match_the_models_on_sqlite(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    command.check(alembic_config(url))  # raises when a model changed without a migration


def test_migrations_match_the_models_on_postgres(pg_database_url):
    async def reset() -> None:
        engine = create_async_engine(pg_database_url)
        async with engine.begin() as connection:
            from callboard.schema import metadata

            await connection.run_sync(metadata().drop_all)
            await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        await engine.dispose()

    asyncio.run(reset())
    upgrade(pg_database_url)
    command.check(alembic_config(pg_database_url))
    asyncio.run(reset())
