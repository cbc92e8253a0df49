"""A network partition between the app and PostgreSQL (packets dropped, connections left open: tests/forwarder.py)
gives every request its 503 within seconds — also a request that holds a pooled connection, whose query would
otherwise wait for the whole partition — and /healthz and /readyz answer within their own timeouts. When the link
heals, the app serves again by itself. PostgreSQL only (SQLite is a file, not a link)."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from aiohttp import ClientResponse
from sqlalchemy.engine import make_url

from forwarder import Forwarder
from vbostotte.app import create_app
from vbostotte.db import PING_TIMEOUT
from vbostotte.web.health import READY_TIMEOUT

from support import WebClient

PARTITION_HELD = 25.0  # seconds the link stays cut at most: far longer than any answer may take
SLACK = 2.0  # seconds on top of a stated timeout, for a machine busy with other tests


@pytest.fixture
async def through_forwarder(database_url, settings, clock, aiohttp_client, world):
    """The app on the test's PostgreSQL database, reached through a forwarder the test can cut."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a network partition is a PostgreSQL matter (run with VB_TEST_DATABASE_URL)")
    forwarder = await Forwarder(url.port or 5432).start()
    forwarded = url.set(host="127.0.0.1", port=forwarder.port).render_as_string(hide_password=False)
    app = create_app(dataclasses.replace(settings, database_url=forwarded), clock=clock)
    # Plain responses: an /api/ 503 is checked against the OpenAPI document by tests/pages/test_api_contract.py.
    web = WebClient(await aiohttp_client(app, response_class=ClientResponse), clock)
    yield forwarder, web
    forwarder.heal()
    await forwarder.close()


async def timed(web: WebClient, path: str) -> tuple[str, int, float]:
    started = time.monotonic()
    response = await web.get(path)
    await response.read()
    return path, response.status, time.monotonic() - started


async def test_a_partition_gives_every_request_a_503_within_seconds_and_the_app_recovers(through_forwarder, world):
    forwarder, web = through_forwarder
    assert (await web.login(world.a.worker)).status == 303
    # Several pooled connections, each used and returned: the requests below take them from the pool.
    assert {status for _, status, _ in await asyncio.gather(*(timed(web, "/worker") for _ in range(6)))} == {200}

    forwarder.partition()
    paths = ["/worker"] * 6 + ["/me", "/api/v1/session", "/healthz", "/readyz"]
    async with asyncio.timeout(PARTITION_HELD):  # before: the pooled connections' requests waited for the heal
        answers = await asyncio.gather(*(timed(web, path) for path in paths))
    slowest = max(seconds for _, _, seconds in answers)
    print(f"\npartition: {len(answers)} requests, all answered in {slowest:.2f} s at most: {answers}")
    assert all(status == 503 for _, status, _ in answers), answers
    assert all(seconds < 3 + SLACK for path, _, seconds in answers), answers
    health = {path: seconds for path, _, seconds in answers if path in ("/healthz", "/readyz")}
    assert health["/healthz"] < PING_TIMEOUT + SLACK and health["/readyz"] < READY_TIMEOUT + SLACK, health

    forwarder.heal()
    async with asyncio.timeout(20):  # the app finds the database again by itself
        while (await timed(web, "/worker"))[1] != 200:
            await asyncio.sleep(0.2)
    assert (await timed(web, "/readyz"))[1] == 200
