"""A server started while PostgreSQL and Redis are down does not exit: a real `vbostotte serve` process pointed at
closed ports starts, answers 503 (health checks say which part is missing), and serves by itself once the services
appear at those ports (a TCP forwarder to the real PostgreSQL and Redis, started later: tests/forwarder.py).
docs/deployment.md, "Starting while a dependency is down"."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from forwarder import Forwarder

from support import free_port

START_TIMEOUT = 30.0


async def answer(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url, allow_redirects=False) as response:
        return response.status, await response.text()


async def test_a_server_started_without_its_database_and_redis_serves_503_then_recovers(database_url, tmp_path):
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("a database behind a port is PostgreSQL (run with VB_TEST_DATABASE_URL); SQLite is a file")
    pg_port, redis_port, port = free_port(), free_port(), free_port()  # nothing listens on the first two yet
    db_url = make_url(database_url).set(host="127.0.0.1", port=pg_port).render_as_string(hide_password=False)
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "VB_DATABASE_URL": db_url,
        "VB_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "VB_REDIS_PREFIX": f"test-start-{uuid.uuid4().hex[:8]}",
        "VB_SECRET_KEY": "start-without-dependencies-secret-0123456789",
        "VB_DATA_DIR": str(tmp_path),
        "VB_BASE_URL": base,
        "VB_OUTBOX_WORKER": "false",
        "VB_LOG_LEVEL": "INFO",
    }
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "vbostotte", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
    forwarders: list[Forwarder] = []
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(START_TIMEOUT):  # it starts (before: exit 1 after 2–4 s)
                while True:
                    assert server.poll() is None, f"the server exited ({server.returncode}):\n{log_path.read_text()}"
                    try:
                        status, body = await answer(session, f"{base}/readyz")
                        break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.2)
            assert status == 503 and '"database": "unreachable"' in body and '"redis": "unreachable"' in body, body
            assert (await answer(session, f"{base}/healthz"))[0] == 503
            assert (await answer(session, f"{base}/login"))[0] == 503  # a page that needs the database
            assert server.poll() is None

            # The services appear where the server was told to look.
            pg_target = make_url(database_url).port or 5432
            forwarders = [
                await Forwarder(pg_target, port=pg_port).start(),
                await Forwarder(6379, port=redis_port).start(),
            ]
            async with asyncio.timeout(START_TIMEOUT):  # recovers by itself: no restart
                while (await answer(session, f"{base}/readyz"))[0] != 200:
                    assert server.poll() is None, log_path.read_text()
                    await asyncio.sleep(0.25)
            status, body = await answer(session, f"{base}/login")
            assert status == 200, body
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        for forwarder in forwarders:
            await forwarder.close()
    log_text = log_path.read_text()
    assert "database unreachable at start" in log_text and "redis unreachable at start" in log_text, log_text
