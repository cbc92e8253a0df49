"""Readiness and dependency outages: /readyz says whether the database and Redis answer; with Redis stopped,
what needs it (readiness, call signalling) fails at once with 503 instead of hanging, pages that do not need
it go on working, and everything recovers by itself when Redis is back. Each test runs its own redis-server
on a free port: the machine's shared Redis is never stopped."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import time

import pytest
import redis

from vbostotte.app import create_app

from support import free_port, read_in_english, require, text_of

WS_HEADERS = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}
FAIL_FAST = 3.0  # seconds: far below a hung connection's minute, far above a loaded machine's hiccup


class OwnRedis:
    """A redis-server of the test's own, on a free port, that the test can stop and start again."""

    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(5)
            self.process = None


@pytest.fixture
def own_redis(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server (Debian package redis-server)")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_readyz_is_ready_with_the_database_alone(web):
    response = await web.get("/readyz")
    assert response.status == 200
    assert await response.json() == {"status": "ready", "database": "ok"}
    assert response.headers["Cache-Control"].startswith("no-store")


async def timed_get(web, path: str, **kw):
    started = time.monotonic()
    response = await web.get(path, **kw)
    return response, time.monotonic() - started


async def test_with_redis_stopped_readiness_and_calls_fail_fast_and_recover(
    aiohttp_client, settings, clock, world, own_redis
):
    from support import WebClient

    app = create_app(dataclasses.replace(settings, redis_url=own_redis.url, redis_prefix="vbtest-outage"), clock=clock)
    web = WebClient(await aiohttp_client(app), clock)
    read_in_english(web)
    response = await web.get("/readyz")
    assert (response.status, await response.json()) == (200, {"status": "ready", "database": "ok", "redis": "ok"})
    assert (await web.open_link(world.a.citizen.link_token)).status == 303

    own_redis.stop()
    outage_started = time.monotonic()
    seen = []
    while time.monotonic() - outage_started < 10:  # ten seconds of outage, asked about all the while
        ready, took = await timed_get(web, "/readyz")
        socket, socket_took = await timed_get(web, "/ws/calls", headers=WS_HEADERS)
        seen.append((ready.status, socket.status))
        assert took < FAIL_FAST and socket_took < FAIL_FAST, (took, socket_took)
        assert await ready.json() == {"status": "unavailable", "database": "ok", "redis": "unreachable"}
        await asyncio.sleep(0.5)
    assert set(seen) == {(503, 503)}
    # A page that needs only the database still works meanwhile.
    assert "Agenda for Citizen Aarhus" in text_of(await web.page("/me"))

    own_redis.start()
    for _ in range(50):  # the app reconnects by itself; nobody restarts it
        ready = await web.get("/readyz")
        if ready.status == 200:
            break
        await asyncio.sleep(0.1)
    assert await ready.json() == {"status": "ready", "database": "ok", "redis": "ok"}
    # The signalling socket upgrades again (101 and a first protocol message, not a 503).
    async with web.client.ws_connect("/ws/calls") as ws:
        await ws.send_json({"type": "join", "ticket": "not-a-ticket"})
        refused = await ws.receive_json(timeout=5)
        assert refused["type"] == "error" and refused["code"] == "unauthorized"


class TcpForwarder:
    """A TCP port in front of PostgreSQL that the test can cut (refuse new connections, break open ones) and
    restore: the database server going away and coming back, without touching the shared server."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def cut(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def _forward(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers.update((writer, up_writer))

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_a_database_outage_gives_the_translated_503_page_at_once_and_recovers(
    aiohttp_client, settings, clock, world
):
    """PostgreSQL going away mid-service (through a forwarder the test cuts): pages answer 503 quickly with the
    layout's error page in Danish, the API with JSON; when it is back, the same app serves again by itself."""

    from sqlalchemy.engine import make_url

    from support import WebClient

    if settings.is_sqlite:
        pytest.skip("a database server outage needs PostgreSQL: runs in the PostgreSQL pass (VB_TEST_DATABASE_URL)")
    url = make_url(settings.database_url)
    forwarder = TcpForwarder(url.host or "127.0.0.1", url.port or 5432)
    await forwarder.start()
    app = create_app(
        dataclasses.replace(
            settings, database_url=url.set(host="127.0.0.1", port=forwarder.port).render_as_string(hide_password=False)
        ),
        clock=clock,
    )
    web = WebClient(await aiohttp_client(app), clock)
    assert (await web.open_link(world.a.citizen.link_token)).status == 303
    assert (await web.get("/me")).status == 200

    await forwarder.cut()
    response, took = await timed_get(web, "/me")
    assert took < FAIL_FAST, took
    assert response.status == 503 and response.headers["Retry-After"] == "10"
    html = await response.text()
    assert "Tjenesten er ikke tilgængelig lige nu" in text_of(html) and 'class="site-header"' in html
    api, took = await timed_get(web, "/api/v1/appointments", headers={"Accept": "application/json"})
    assert took < FAIL_FAST and api.status == 503 and (await api.json())["error"] == 503
    ready, took = await timed_get(web, "/readyz")
    assert took < FAIL_FAST and (await ready.json())["database"] == "unreachable"

    await forwarder.start()
    assert (await web.get("/me")).status == 200
    assert (await web.get("/readyz")).status == 200
    await forwarder.cut()
