"""Fixtures: a real, migrated database per test (SQLite by default, PostgreSQL when
VB_TEST_DATABASE_URL is set), the real app on it, and a world of two municipalities."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import inspect
import os
import re
import shutil

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from vbostotte import db as database
from vbostotte.app import create_app
from vbostotte.config import load_settings
from vbostotte.models import Base

from api_contract import CheckedResponse
from mail_and_sms import MailServer, SmsGateway
from support import PASSWORD, Clock, WebClient, World, build_world, port_open, require

# `make test` runs the suite in parallel (pytest-xdist): each worker process (gw0, gw1, …) gets a database of its
# own on PostgreSQL, <database>_<worker> beside the given one (created when missing). SQLite needs nothing: each
# test already works on its own copy of a template in the worker's own temporary directory.
GIVEN_PG_URL = os.environ.get("VB_TEST_DATABASE_URL", "")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_url(url: str, worker: str) -> str:
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


PG_URL = _worker_url(GIVEN_PG_URL, WORKER)
SECRET = "test-secret-key-not-for-production-0123456789"
# One audit chain key for the whole run: the app (settings below), sessions the tests make themselves and the
# `vbostotte` commands they start (which inherit the environment) all chain and verify with it.
AUDIT_KEY = "test:audit-key-not-for-production-0123456789"
os.environ["VB_AUDIT_KEY"] = AUDIT_KEY
os.environ.pop("VB_AUDIT_RETIRED_KEYS", None)


# What the PostgreSQL pass runs (README, "Running against PostgreSQL"): the tests that have a database — those that
# ask for one through the fixtures (database_url, or what builds on it: engine, db, world, app, web, …) and those
# marked `postgres` (they reach PostgreSQL another way, e.g. a database of their own beside the test's).
# A test without a database gives the same result on either pass, so it runs once, in the SQLite pass. The browser
# tests drive pages and calls, which are the same on either database, and the data layer under them is tested on both
# by the page, unit, realtime and multiprocess tests, so they too run in the SQLite pass only;
# VB_TEST_BROWSERS_ON_POSTGRES=1 runs them on PostgreSQL as well.
BROWSERS_ON_POSTGRES = os.environ.get("VB_TEST_BROWSERS_ON_POSTGRES") == "1"
# A test that names the PostgreSQL URL itself without asking for a database would silently leave the PostgreSQL pass.
NAMES_THE_DATABASE = re.compile(r"\bPG_URL\b|VB_TEST_DATABASE_URL")


def has_database(item) -> bool:
    return "migrated_database" in getattr(item, "fixturenames", ()) or item.get_closest_marker("postgres") is not None


def runs_on_postgres(item) -> bool:
    if item.get_closest_marker("browser") and not BROWSERS_ON_POSTGRES:
        return False
    return has_database(item)


def _names_the_database(item) -> bool:
    function = getattr(item, "function", None)
    try:
        return function is not None and bool(NAMES_THE_DATABASE.search(inspect.getsource(function)))
    except (OSError, TypeError):
        return False


def pytest_collection_modifyitems(config, items):
    unmarked = [item.nodeid for item in items if not has_database(item) and _names_the_database(item)]
    if unmarked:  # in both passes, so the SQLite pass already fails on it
        raise pytest.UsageError(
            "these tests use the PostgreSQL URL but have no database fixture: mark them @pytest.mark.postgres so "
            "the PostgreSQL pass runs them:\n  " + "\n  ".join(unmarked)
        )
    if not GIVEN_PG_URL:
        return
    left = [item for item in items if not runs_on_postgres(item)]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = [item for item in items if runs_on_postgres(item)]


# The app freezes what its start-up made (gc.collect(), then gc.freeze(): vbostotte/app.py) and unfreezes it when it
# stops. In a test process that full collection also walks pytest's own heap and the earlier tests' leftovers: a
# quarter of a second for each of the hundreds of apps a run starts (15 of the 53 s of 48 page tests). So
# before each test the test process freezes what it holds itself, and the app's collection walks only what is new
# since; every FULL_COLLECTION_EVERY tests it first collects in full, so garbage is kept only that long.
FULL_COLLECTION_EVERY = 20
_tests_begun = 0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    global _tests_begun
    if _tests_begun % FULL_COLLECTION_EVERY == 0:
        gc.unfreeze()
        gc.collect()
    gc.freeze()
    _tests_begun += 1


def _run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


async def _create_worker_database() -> None:
    """CREATE DATABASE <database>_<worker> unless it exists, from a connection to the given database."""
    name = make_url(PG_URL).database
    engine = create_async_engine(GIVEN_PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory):
    """Migrate once per run (per worker): a template SQLite file, or a fresh schema on PostgreSQL."""
    if PG_URL:
        require(port_open(PG_URL, 5432), f"PostgreSQL at {PG_URL}")
        if PG_URL != GIVEN_PG_URL:
            _run(_create_worker_database())

        async def reset():
            engine = database.create_engine(PG_URL)
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await database.migrate(engine)
            await engine.dispose()

        _run(reset())
        return PG_URL
    template = tmp_path_factory.mktemp("template") / "template.db"

    async def migrate():
        engine = database.create_engine(f"sqlite+aiosqlite:///{template}")
        await database.migrate(engine)
        await engine.dispose()

    _run(migrate())
    return str(template)


@pytest.fixture
async def database_url(migrated_database, tmp_path):
    """A clean, migrated database for this test."""
    if PG_URL:
        engine = database.create_engine(PG_URL)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            # TRUNCATE fires no row triggers, so the append-only audit table can be emptied between tests.
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            await conn.execute(
                text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, :h)"), {"h": "0" * 64}
            )
        await engine.dispose()
        return PG_URL
    path = tmp_path / "test.db"
    shutil.copy(migrated_database, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(database_url, tmp_path):
    # No background sender unless a test asks for one (tests/unit/test_reminder_delivery.py does).
    return load_settings(
        {},
        data_dir=tmp_path,
        database_url=database_url,
        secret_key=SECRET,
        base_url="http://127.0.0.1",
        outbox_worker=False,
        audit_key=AUDIT_KEY,
    )


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def real_clock() -> Clock:
    """For servers in processes of their own (they run on the real clock): the test's data is arranged on it too."""
    return Clock(dt.datetime.now(dt.UTC).replace(microsecond=0))


@pytest.fixture
async def engine(database_url):
    """The test's own engine, for arranging and inspecting. Deferred transactions: an open read never
    holds SQLite's write lock against the app under test."""
    engine = database.create_engine(database_url, immediate=False)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(engine):
    """A database session for arranging and inspecting data directly (commit what you arrange)."""
    async with database.sessionmaker(engine)() as session:
        yield session


@pytest.fixture(scope="session")
def _password_hash():
    from vbostotte.identity.login import hash_password

    return hash_password(PASSWORD)


@pytest.fixture
async def world(engine, clock, monkeypatch, _password_hash) -> World:
    return await build_world(engine, clock, _password_hash, monkeypatch)


@pytest.fixture
def aiohttp_client(aiohttp_client):
    """pytest-aiohttp's client factory, whose clients hold every /api/v1/ answer to the OpenAPI document
    (tests/api_contract.py): a test that receives an undocumented status or body fails."""

    async def client(app, **kwargs):
        kwargs.setdefault("response_class", CheckedResponse)
        return await aiohttp_client(app, **kwargs)

    return client


@pytest.fixture
def app(settings, clock):
    return create_app(settings, clock=clock)


@pytest.fixture
async def web(aiohttp_client, app, clock) -> WebClient:
    """A browser-like client against the real app."""
    return WebClient(await aiohttp_client(app), clock)


@pytest.fixture
async def other_web(aiohttp_client, app, clock) -> WebClient:
    """A second, independent browser (its own cookies) against the same app."""
    return WebClient(await aiohttp_client(app), clock)


@pytest.fixture
def mail():
    """A real local SMTP server that keeps what it receives."""
    with MailServer() as server:
        yield server


@pytest.fixture
async def gateway():
    """A local SMS gateway speaking the JSON-over-HTTP contract in docs/reminders.md."""
    gateway = SmsGateway()
    await gateway.start()
    yield gateway
    await gateway.close()
