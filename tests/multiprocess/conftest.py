"""Two real server processes (`vbostotte serve --port N`, each its own OS process) sharing one PostgreSQL (the
test's database: VB_TEST_DATABASE_URL, or the pytest-xdist worker's own database beside it) and one Redis
(127.0.0.1:6379, under a key prefix of the test's own, so the machine's Redis is shared safely). They run in the PostgreSQL pass of the suite: SQLite is one process by
design, so in the SQLite pass they are skipped with that reason; with PostgreSQL set, a missing Redis fails
in CI like every required service."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import aioice.ice
import pytest
import redis.asyncio as redis

from support import Clock, WebClient, build_world, free_port, port_open, require

# Only whether PostgreSQL is set: the servers get the test's database_url (under pytest-xdist the worker's own
# database, tests/conftest.py), which the suite's fixtures migrate and empty.
PG_URL = os.environ.get("VB_TEST_DATABASE_URL", "")
SECRET = "multiprocess-secret-key-not-for-production-0123456789"  # one key for both: CSRF tokens work on either
REDIS_URL = os.environ.get("VB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START_TIMEOUT = 30.0


class ServerProcess:
    """One `vbostotte serve` OS process on its own port; its log (JSON lines) goes to a file."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name, self.port = name, free_port()
        self.env = {**env, "VB_PORT": str(self.port)}
        self.log_path = log_dir / f"server-{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def start(self, session: aiohttp.ClientSession) -> None:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vbostotte", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    if self.process.poll() is not None:
                        raise AssertionError(f"server {self.name} exited ({self.process.returncode}):\n{self.log()}")
                    try:
                        async with session.get(f"{self.url}/readyz") as response:
                            if response.status == 200:
                                return
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"server {self.name} not ready in time:\n{self.log()}") from None

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def exited(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        async with asyncio.timeout(timeout):
            while self.process.poll() is None:
                await asyncio.sleep(0.05)
        return self.process.returncode

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


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
def real_clock() -> Clock:
    """The processes run on the real clock, so the test's data is arranged on it too."""
    return Clock(dt.datetime.now(dt.UTC).replace(microsecond=0))


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
        base = {
            **os.environ,
            "VB_DATABASE_URL": database_url,
            "VB_SECRET_KEY": SECRET,
            "VB_DATA_DIR": str(tmp_path),
            "VB_REDIS_URL": REDIS_URL,
            "VB_REDIS_PREFIX": shared_redis,
            "VB_LOG_FORMAT": "json",
            "VB_LOG_LEVEL": "INFO",
            "VB_SMTP_HOST": "",
            "VB_SMS_GATEWAY_URL": "",
            **env,
        }
        base.pop("VB_BASE_URL", None)  # each process's own address (serve --port sets it)
        servers = [ServerProcess(name, base, tmp_path) for name in names]
        started.extend(servers)
        await asyncio.gather(*(server.start(http) for server in servers))
        return servers

    yield start
    for server in started:
        server.stop()


def browser(http: aiohttp.ClientSession, server: ServerProcess, clock: Clock) -> WebClient:
    """A WebClient for one process, sharing ``http``'s cookies with the others."""
    return WebClient(_BoundClient(http, server.url), clock)


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


def terminate(server: ServerProcess) -> None:
    server.signal(signal.SIGTERM)
