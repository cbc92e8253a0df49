"""Liveness/health: reports whether the database answers."""

from __future__ import annotations

from aiohttp import web

from vbostotte import db
from vbostotte.keys import ENGINE


async def healthz(request: web.Request) -> web.Response:
    ok = await db.ping(request.app[ENGINE])
    return web.json_response({"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable"},
                             status=200 if ok else 503)
