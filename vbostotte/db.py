"""Database engine, sessions and migrations (Alembic), for SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from vbostotte.audit.keys import SESSION_INFO, Keyring
from vbostotte.operations import private_files

MIGRATIONS = Path(__file__).parent / "migrations"
PING_TIMEOUT = 2.0  # seconds; a health check must answer quickly even when the database does not


class NotMigrated(RuntimeError):
    """The database schema is not at the latest migration."""


def create_engine(url: str, *, immediate: bool = True, connect_timeout: float = 2.0) -> AsyncEngine:
    """Create an engine; SQLite gets WAL, synchronous=FULL, foreign keys and (``immediate``) serialised writers.

    ``immediate=False`` is for tools and tests that only inspect: their reads then never hold the write lock.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A database that is down or unreachable fails a request within connect_timeout (a 503), not a minute:
        # the connection attempt and the wait for a free pooled connection are both bounded.
        return create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            pool_timeout=connect_timeout,
            connect_args={"timeout": connect_timeout},
        )
    if parsed.database and parsed.database != ":memory:":
        private_files.sqlite_database(Path(parsed.database))  # folder 0700; database, -wal and -shm 0600
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised by every test
        # Let SQLAlchemy, not the driver, open transactions, so "begin" below decides their kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # pragma: no cover - exercised by every test
        # BEGIN IMMEDIATE takes the write lock up front: a transaction that reads and then writes
        # (the audit chain does) can never fail half-way with SQLITE_BUSY on lock upgrade.
        read_only = conn.get_execution_options().get("read_only", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate and not read_only else "BEGIN")

    return engine


def sessionmaker(engine: AsyncEngine, keyring: Keyring | None = None) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``. ``keyring``: the audit chains' keys its sessions append and verify with (the app
    and the command line pass their settings' keys; without one, ``audit_keys.of_session`` uses the process's)."""
    if keyring is None:
        return async_sessionmaker(engine, expire_on_commit=False)
    return async_sessionmaker(engine, expire_on_commit=False, info={SESSION_INFO: keyring})


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession], lock: asyncio.Lock | None = None
) -> AsyncIterator[AsyncSession]:
    """One transaction outside a request (background work, signalling). In the web process on SQLite pass the
    app's lock, so the work queues behind requests instead of busy-waiting on SQLite's write lock."""
    async with lock if lock is not None else nullcontext():
        async with sessions() as session, session.begin():
            yield session


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database to ``revision``."""

    def _upgrade(sync_conn):
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def check_migrated(engine: AsyncEngine) -> None:
    """Raise :class:`NotMigrated` with the fixing command unless the schema is at the head revision."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise NotMigrated(
            f"The database is not migrated (at {current or 'nothing'}, needs {head}). "
            "Run `vbostotte migrate` (or `make run`, which migrates first)."
        )


async def ping(engine: AsyncEngine, timeout: float = PING_TIMEOUT) -> bool:
    """True if the database answers a trivial query within ``timeout`` seconds."""

    async def select_one() -> None:
        # read_only: on SQLite a plain BEGIN, so the check never waits for the write lock.
        async with engine.connect() as conn:
            conn = await conn.execution_options(read_only=True)
            await conn.execute(text("SELECT 1"))

    try:
        # A database host that drops packets would otherwise hold the health check for a minute.
        await asyncio.wait_for(select_one(), timeout)
        return True
    except Exception:  # noqa: BLE001 - any failure (the timeout included) means "not reachable"
        return False
