"""The citizen's own data as a download (JSON) and a printable page: from the citizen's page, or by a support
worker on the citizen's behalf (see ``services.data_export``)."""

from __future__ import annotations

from aiohttp import web

from vbostotte import access, audit
from vbostotte.care import checkins, day_plan
from vbostotte.errors import PermissionDenied
from vbostotte.identity import citizens
from vbostotte.models import StaffRole
from vbostotte.privacy import data_export
from vbostotte.web import base


async def _own(request: web.Request, fmt: str) -> dict:
    who = base.actor(request)
    if not who.is_citizen:
        raise PermissionDenied()
    db = base.db(request)
    citizen = await citizens.by_id(db, who.known_id)
    return await data_export.gather(db, who, citizen, base.now(request), fmt)


async def _on_behalf(request: web.Request, fmt: str) -> dict:
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db = base.db(request)
    citizen = await access.citizen_for(db, who, base.object_id(request), "citizen.view", audit.Purpose.DATA_ACCESS)
    return await data_export.gather(db, who, citizen, base.now(request), fmt)


def _json(export: dict) -> web.Response:
    day = export["generated_at"].strftime("%Y-%m-%d")
    return web.Response(
        text=data_export.to_json(export),
        content_type="application/json",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="my-data-{day}.json"'},
    )


def _page(request: web.Request, export: dict) -> web.Response:
    return base.render(
        request,
        "export/data.html",
        {
            "export": export,
            "purposes": data_export.PURPOSE_LABELS,
            "area_of": data_export.area_of,
            "by_labels": data_export.BY_LABELS,
            "levels": checkins.LABELS,
            "grades": day_plan.GRADE_LABELS,
        },
    )


async def own_page(request: web.Request) -> web.Response:
    return _page(request, await _own(request, "html"))


async def own_json(request: web.Request) -> web.Response:
    return _json(await _own(request, "json"))


async def citizen_page(request: web.Request) -> web.Response:
    return _page(request, await _on_behalf(request, "html"))


async def citizen_json(request: web.Request) -> web.Response:
    return _json(await _on_behalf(request, "json"))
