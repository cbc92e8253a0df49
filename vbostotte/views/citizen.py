"""The citizen's own pages: one start page with their coming appointments, in plain words."""

from __future__ import annotations

from aiohttp import web

from vbostotte.errors import PermissionDenied
from vbostotte.services import appointments
from vbostotte.views import base


async def home(request: web.Request) -> web.Response:
    who = base.actor(request)
    if not who.is_citizen:
        raise PermissionDenied()
    upcoming = await appointments.upcoming_for_citizen(base.db(request), who, base.now(request))
    return base.render(request, "citizen/home.html", {"appointments": upcoming, "done": request.query.get("done", "")})
