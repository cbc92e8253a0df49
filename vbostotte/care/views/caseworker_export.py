"""The summary for the citizen's caseworker, as a printable page (see ``services.caseworker_export``)."""

from __future__ import annotations

from aiohttp import web

from vbostotte.care import caseworker_export
from vbostotte.web import base


async def page(request: web.Request) -> web.Response:
    summary = await caseworker_export.summary(
        base.db(request), base.actor(request), base.object_id(request), base.now(request)
    )
    return base.render(request, "export/caseworker.html", {"summary": summary})
