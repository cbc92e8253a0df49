"""The health check answers quickly whether the database does: 200 when it answers, 503 when it does not."""

from __future__ import annotations

import asyncio
import time
import warnings
from contextlib import asynccontextmanager

from vbostotte import db as database
from vbostotte.web.keys import ENGINE


async def test_healthz_reports_the_database_ok(web):
    response = await web.get("/healthz")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == {"status": "ok", "database": "ok"}


@asynccontextmanager
async def database_at(app, url: str):
    """Point the running app at another database for a while (as if its server had gone away)."""
    original, replacement = app[ENGINE], database.create_engine(url)
    with warnings.catch_warnings():  # the app is running: aiohttp warns about changing its state
        warnings.simplefilter("ignore", DeprecationWarning)
        app[ENGINE] = replacement
        try:
            yield
        finally:
            app[ENGINE] = original
            await replacement.dispose()


@asynccontextmanager
async def silent_server():
    """A TCP port that accepts connections and never says a word (a database host that hangs)."""
    connections: list[asyncio.StreamWriter] = []

    async def accept(_reader, writer):
        connections.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def assert_unreachable_within(web, seconds: float) -> None:
    started = time.monotonic()
    response = await web.get("/healthz")
    assert time.monotonic() - started < seconds
    assert response.status == 503
    assert await response.json() == {"status": "degraded", "database": "unreachable"}


async def test_healthz_is_503_at_once_when_the_database_refuses_connections(web, app):
    async with database_at(app, "postgresql+asyncpg://nobody@127.0.0.1:1/nothing"):
        await assert_unreachable_within(web, 2)
    assert (await web.get("/healthz")).status == 200  # and well again when it is back


async def test_healthz_gives_up_on_a_database_that_does_not_answer(web, app):
    async with silent_server() as port, database_at(app, f"postgresql+asyncpg://nobody@127.0.0.1:{port}/nothing"):
        await assert_unreachable_within(web, database.PING_TIMEOUT + 1.5)
