"""Database engine, sessions and migrations (Alembic), for SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path

import aiosqlite
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_

from vbostotte.audit.keys import SESSION_INFO, Keyring
from vbostotte.operations import private_files

MIGRATIONS = Path(__file__).parent / "migrations"
PING_TIMEOUT = 2.0  # seconds; a health check must answer quickly even when the database does not


class NotMigrated(RuntimeError):
    """The database schema is not at the latest migration."""


CHECKOUT_PING = 1.0  # seconds a pooled PostgreSQL connection has to answer before it is used (web app)


def _ping_on_checkout(dbapi_connection, _record, _proxy) -> None:  # pragma: no cover - exercised by every PG test
    try:
        await_(dbapi_connection.driver_connection.fetchrow(";", timeout=CHECKOUT_PING))
    except Exception as exc:  # noqa: BLE001 - timed out, reset, closed: not usable
        dbapi_connection.driver_connection.terminate()  # at once: a polite close would wait on the dead link too
        raise DisconnectionError(f"pooled connection did not answer ({type(exc).__name__})") from exc


def _postgres_connect_args(connect_timeout: float, query_timeout: float | None) -> dict:
    args: dict = {"timeout": connect_timeout}
    if query_timeout:
        args["command_timeout"] = query_timeout
        args["server_settings"] = {"statement_timeout": str(max(100, int(query_timeout * 1000) - 200))}
    return args


def create_engine(
    url: str, *, immediate: bool = True, connect_timeout: float = 2.0, query_timeout: float | None = None
) -> AsyncEngine:
    """Create an engine; SQLite gets WAL, synchronous=FULL, foreign keys and (``immediate``) serialised writers.

    ``immediate=False`` is for tools and tests that only inspect: their reads then never hold the write lock.
    ``query_timeout`` (PostgreSQL; the web app's): seconds any one statement may take, from our side and the
    server's; None (migrations, backups, the command line) leaves statements unbounded.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A database that is down or unreachable fails a request within connect_timeout (a 503), not a minute:
        # the connection attempt and the wait for a free pooled connection are both bounded, and so is every
        # statement. A partition (packets dropped, connections left open) stops a query on a pooled connection
        # after command_timeout on our side (asyncpg), then the connection is dropped; a query the server is merely
        # slow with is ended by the server itself (statement_timeout, a little shorter), the connection kept.
        pg_engine = create_async_engine(
            url,
            pool_pre_ping=query_timeout is None,
            pool_size=10,
            max_overflow=10,
            pool_timeout=connect_timeout,
            connect_args=_postgres_connect_args(connect_timeout, query_timeout),
        )
        if query_timeout is not None:
            # The pre-ping, with a short bound of its own: a pooled connection cut off by a partition is found
            # out in CHECKOUT_PING seconds and replaced (the new connection's attempt then fails within
            # connect_timeout: a 503 within about three seconds in all), not after a whole query timeout.
            event.listen(pg_engine.sync_engine, "checkout", _ping_on_checkout)
        return pg_engine
    if parsed.database and parsed.database != ":memory:":
        private_files.sqlite_database(Path(parsed.database))  # folder 0700; database, -wal and -shm 0600
    if immediate and parsed.database and parsed.database != ":memory:":
        path = parsed.database

        async def connect() -> aiosqlite.Connection:
            connection = _WriterConnection(lambda: sqlite3.connect(path, timeout=30, check_same_thread=False), 64)
            connection._thread.daemon = True
            return await connection

        engine = create_async_engine(url, async_creator=connect)
    else:
        engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised by every test
        _sqlite_pragmas(dbapi_connection)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # pragma: no cover - exercised by every test
        # BEGIN IMMEDIATE takes the write lock up front: a transaction that reads and then writes
        # (the audit chain does) can never fail half-way with SQLITE_BUSY on lock upgrade.
        read_only = conn.get_execution_options().get("read_only", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate and not read_only else "BEGIN")

    return engine


_YIELD_AFTER = frozenset({"execute", "executemany", "fetchall", "fetchmany"})


class _InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, but each statement runs in the calling (event loop) thread instead of being handed to
    the connection's own thread and back: for a page's short reads the two thread switches per call cost more than
    the read itself. Only the reader engine's connections are made so (:func:`create_reader_engine`)."""

    async def _execute(self, fn, *args, **kwargs):
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        result = fn(*args, **kwargs)
        if getattr(fn, "__name__", "") in _YIELD_AFTER:
            await asyncio.sleep(0)  # let other requests in between one statement and the next, as a thread would
        return result


class _WriterConnection(_InlineConnection):
    """The writers' connection (SQLite, ``immediate``): what can wait runs in the connection's own thread — ``BEGIN
    IMMEDIATE`` (for another process's write lock, up to the busy timeout) and the commit (its fsync) — and every
    statement in between runs in the calling (event loop) thread: the transaction holds the write lock by then, so
    none of them waits for a lock, and for a short transaction's few statements the two thread switches each would
    cost more than the statements (a call's join: about 20 switches)."""

    async def _execute(self, fn, *args, **kwargs):
        name = getattr(fn, "__name__", "")
        sql = args[0] if args and isinstance(args[0], str) else ""
        if name == "commit" or sql.lstrip()[:15].upper() in _MAY_WAIT:
            return await aiosqlite.Connection._execute(self, fn, *args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)


_MAY_WAIT = frozenset({"BEGIN IMMEDIATE", "BEGIN EXCLUSIVE", "COMMIT"})


def _sqlite_pragmas(dbapi_connection) -> None:
    # Let SQLAlchemy, not the driver, open transactions, so "begin" decides their kind.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READER_BUSY_MS = 2000  # a reader in WAL mode waits only in rare moments (recovery); never hold the loop long
REPORT_QUERY_TIMEOUT = 60.0  # seconds a report's statement may take on PostgreSQL (a page's: the dependency timeout)


def create_reader_engine(url: str) -> AsyncEngine | None:
    """SQLite (a file): an engine for read-only units of work whose statements run in the event loop's thread
    (WAL: readers never wait for the writer, so a short read needs no thread of its own). None otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = parsed.database

    async def connect() -> aiosqlite.Connection:
        connection = _InlineConnection(
            lambda: sqlite3.connect(path, timeout=READER_BUSY_MS / 1000, check_same_thread=False), 64
        )
        connection._thread.daemon = True
        return await connection

    engine = create_async_engine(url, async_creator=connect, pool_size=10, max_overflow=10)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - exercised by every test
        _sqlite_pragmas(dbapi_connection)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={READER_BUSY_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # pragma: no cover - exercised by every test
        conn.exec_driver_sql("BEGIN")  # a reader: never the write lock

    return engine.execution_options(read_only=True)


def create_report_engine(url: str, connect_timeout: float) -> AsyncEngine | None:
    """The read-only engine of reports (``web/reports.py``; used only in the report thread, whose event loop its
    PostgreSQL connections belong to); None for SQLite in memory (tests: reports then read as pages do). SQLite:
    readers like :func:`create_reader_engine`'s (their statements run in the report thread). PostgreSQL: a pool of
    its own whose statements may take
    ``REPORT_QUERY_TIMEOUT`` seconds (a year's statistics on a busy server outlasts a page's bound), connecting
    within ``connect_timeout`` as pages do, and in REPEATABLE READ: a report's statements all read one snapshot, as
    SQLite's readers do (under READ COMMITTED the access log's chain check read the entries, then a head that group
    commits had moved on meanwhile, and took the chain for cut short: a false alarm, and a walk of the whole chain)."""
    if make_url(url).get_backend_name() == "sqlite":
        return create_reader_engine(url)
    timeout = max(connect_timeout, REPORT_QUERY_TIMEOUT)
    engine = create_engine(url, connect_timeout=connect_timeout, query_timeout=timeout)
    return engine.execution_options(read_only=True, isolation_level="REPEATABLE READ")


class WriteInReadOnly(RuntimeError):
    """A statement that writes, sent in a read-only unit of work (see :func:`guard_read_only`)."""


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


def guard_read_only(engine: AsyncEngine) -> None:
    """Refuse (:class:`WriteInReadOnly`) any writing statement on a connection with the ``read_only`` execution
    option, on SQLite and PostgreSQL alike, before it reaches the database. A page request runs read-only first
    (no lock, no writer wait); the few that turn out to write are run again as writers (web/middlewares.py)."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _refuse_writes(conn, _cursor, statement, _parameters, context, _executemany):  # pragma: no cover
        if not conn.get_execution_options().get("read_only", False):
            return
        if context is not None and (context.isinsert or context.isupdate or context.isdelete):
            raise WriteInReadOnly(statement.split(None, 1)[0])
        if statement.lstrip()[:7].upper().startswith(_WRITES):
            raise WriteInReadOnly(statement.split(None, 1)[0])


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
