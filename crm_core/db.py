"""The database handle: one async engine, chosen by URL (SQLite embedded, PostgreSQL scale-out)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from crm_core.models import Base

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
T = TypeVar("T")


class DatabaseUrlError(ValueError):
    pass


def check_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse text
        raise DatabaseUrlError(f"database url {url!r} is not a valid URL: {exc}") from exc
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseUrlError(
            f"database url uses driver {parsed.drivername!r}; supported: "
            + ", ".join(SUPPORTED_DRIVERS)
        )
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web desktop read while the AMI bridge writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    def __init__(self, engine: AsyncEngine, read_engine: Engine | None = None) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # aiosqlite hops to its thread for every cursor step; a read of many small queries (the
        # caller's card) is much faster run whole in one worker thread on a plain sqlite3 engine.
        self._read_engine = read_engine
        self._readers = ThreadPoolExecutor(4, "db-read") if read_engine is not None else None

    @classmethod
    async def open(cls, url: str, *, echo: bool = False) -> Database:
        check_url(url)
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("postgresql"):
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        engine = create_async_engine(url, **kwargs)
        read_engine = None
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            database = make_url(url).database
            if database and database != ":memory:":
                read_engine = create_engine(
                    make_url(url).set(drivername="sqlite"), pool_size=4, max_overflow=0
                )
                event.listen(read_engine, "connect", _sqlite_pragmas)
        return cls(engine, read_engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    async def read(self, work: Callable[[Session], T]) -> T:
        """Runs a synchronous read-only `work(session)` by the fastest path for the backend."""
        if self._read_engine is not None and self._readers is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._readers, _run_read, self._read_engine, work)
        async with self.session() as session:
            return await session.run_sync(work)

    async def create_schema(self, metadata: MetaData = Base.metadata) -> None:
        """Tables straight from the models, for tests and benchmarks (pass every package's
        metadata: callboard.schema.metadata()). Production databases use migrations."""
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def close(self) -> None:
        if self._readers is not None:
            self._readers.shutdown(wait=True)
        if self._read_engine is not None:
            self._read_engine.dispose()
        await self.engine.dispose()


def _run_read(engine: Engine, work: Callable[[Session], T]) -> T:
    with Session(engine) as session:
        return work(session)
