"""Health and operations: ``/healthz`` (the process and its database answer), ``/readyz`` (everything a request
needs answers: the database and, with ``VB_REDIS_URL``, Redis), ``/metrics`` (Prometheus, allow-list or token)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from vbostotte import db
from vbostotte.operations import metrics
from vbostotte.web.keys import CLOCK, ENGINE, METRICS, SETTINGS, SIGNALING

READY_TIMEOUT = 1.0  # seconds for each check: a load balancer asks often and must get an answer quickly


async def healthz(request: web.Request) -> web.Response:
    ok = await db.ping(request.app[ENGINE])
    return web.json_response(
        {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"}, status=200 if ok else 503
    )


async def readyz(request: web.Request) -> web.Response:
    """Ready for traffic: the database answers and, when signalling goes through Redis, Redis does; both are
    checked at once, each within a second."""
    checks = {"database": db.ping(request.app[ENGINE], timeout=READY_TIMEOUT)}
    if request.app[SETTINGS].redis_url:
        checks["redis"] = request.app[SIGNALING].broker.ping(timeout=READY_TIMEOUT)
    results = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
    ready = all(results.values())
    body = {
        "status": "ready" if ready else "unavailable",
        **{name: "ok" if ok else "unreachable" for name, ok in results.items()},
    }
    return web.json_response(body, status=200 if ready else 503, headers={"Cache-Control": "no-store"})


async def metrics_page(request: web.Request) -> web.Response:
    if not metrics.allowed(request, request.app[SETTINGS]):
        raise web.HTTPNotFound()
    body = await request.app[METRICS].render(request.app[ENGINE], request.app[SIGNALING].stats(), request.app[CLOCK]())
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})
