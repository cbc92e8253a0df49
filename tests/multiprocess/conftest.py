"""Two real server processes (`vbostotte serve --port N`, each its own OS process) sharing one PostgreSQL (the
test's database: VB_TEST_DATABASE_URL, or the pytest-xdist worker's own database beside it) and one Redis
(127.0.0.1:6379, under a key prefix of the test's own, so the machine's Redis is shared safely). They run in the PostgreSQL pass of the suite: SQLite is one process by
design, so in the SQLite pass they are skipped with that reason; with PostgreSQL set, a missing Redis fails
in CI like every required service."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import aioice.ice
import pytest
import redis.asyncio as redis

from realtime.peer import Peer
from support import Clock, ServerProcess, WebClient, build_world, call_ticket, port_open, require, serve_env

# Only whether PostgreSQL is set: the servers get the test's database_url (under pytest-xdist the worker's own
# database, tests/conftest.py), which the suite's fixtures migrate and empty.
PG_URL = os.environ.get("VB_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("VB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch):
    """The test's aiortc peers gather only 127.0.0.1, so calls stay on this machine."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture
async def shared_redis():
    """The machine's Redis, with a key prefix of this test's own (its keys are deleted afterwards)."""
    if not PG_URL:
        pytest.skip("several processes need PostgreSQL: they run in the PostgreSQL pass (VB_TEST_DATABASE_URL)")
    require(port_open(REDIS_URL, 6379), f"Redis at {REDIS_URL}")
    prefix = f"vbtest-mp-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def mp_world(engine, real_clock, monkeypatch, _password_hash, shared_redis):
    return await build_world(engine, real_clock, _password_hash, monkeypatch)


@pytest.fixture
async def http():
    """One browser's cookie jar for both processes (cookies for 127.0.0.1 do not depend on the port)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture
async def start_servers(database_url, shared_redis, tmp_path, http):
    """Start server processes sharing the test's database and Redis prefix; all are killed afterwards."""
    started: list[ServerProcess] = []

    async def start(*names: str, **env: str) -> list[ServerProcess]:
        base = serve_env(database_url, tmp_path, VB_REDIS_URL=REDIS_URL, VB_REDIS_PREFIX=shared_redis, **env)
        servers = [ServerProcess(name, base, tmp_path) for name in names]
        started.extend(servers)
        await asyncio.gather(*(server.start(http) for server in servers))
        return servers

    yield start
    for server in started:
        server.stop()


async def in_call(world, appointment_id: int, citizen_web: WebClient, worker_web: WebClient):
    """World a's citizen and worker, each through their own page's process, in the appointment's call: let in, the
    media flowing both ways. Both peers and their participant ids."""
    await citizen_web.open_link(world.a.citizen.link_token)
    assert (await worker_web.login(world.a.worker)).status == 303
    citizen = Peer(citizen_web.client.session, citizen_web.client.make_url("/ws/calls"))
    worker = Peer(worker_web.client.session, worker_web.client.make_url("/ws/calls"))
    citizen_id, worker_id = f"citizen-{world.a.citizen.id}", f"staff-{world.a.worker.id}"
    await worker.join(await call_ticket(worker_web, appointment_id, "/worker"))
    assert (await citizen.join(await call_ticket(citizen_web, appointment_id, "/me")))["state"] == "waiting"
    await worker.expect("waiting")
    await worker.send(type="admit", participant=citizen_id)
    await citizen.expect("admitted")
    await worker.call(citizen_id)
    await worker.connected(citizen_id)
    await worker.frames_from(citizen_id, 5)
    await citizen.frames_from(worker_id, 5)
    return citizen, worker, citizen_id, worker_id


def browser(http: aiohttp.ClientSession, server: ServerProcess, clock: Clock) -> WebClient:
    """A WebClient for one process, sharing ``http``'s cookies with the others."""
    return WebClient(_BoundClient(http, server.url), clock)


@asynccontextmanager
async def citizen_and_worker(
    citizen_server: ServerProcess, worker_server: ServerProcess, clock: Clock
) -> AsyncIterator[tuple[WebClient, WebClient]]:
    """The citizen's and the worker's browsers (a cookie jar each) on these processes (may be the same one)."""
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as citizen_http,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as worker_http,
    ):
        yield browser(citizen_http, citizen_server, clock), browser(worker_http, worker_server, clock)


class _BoundClient:
    """The small part of aiohttp's TestClient that WebClient uses, for a server at a real address."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    def make_url(self, path: str):
        from yarl import URL

        return URL(self.base + path)

    async def get(self, path: str, **kw):
        return await self.session.get(self.base + path, **kw)

    async def post(self, path: str, **kw):
        return await self.session.post(self.base + path, **kw)
