"""Video calls: a join ticket for the page, and the signalling WebSocket (handled by ``signaling``)."""

from __future__ import annotations

from aiohttp import web

from vbostotte.keys import SIGNALING
from vbostotte.services import calls
from vbostotte.views import base

SOCKET_PATH = "/ws/calls"


async def page(request: web.Request) -> web.Response:
    """The call page: pre-join (camera preview, Join), waiting room, the call itself."""
    who = base.actor(request)
    appointment = await calls.call_for(base.db(request), who, base.object_id(request), "call.page")
    now, settings = base.now(request), base.settings(request)
    return base.render(request, "calls/call.html", {
        "a": appointment, "is_host": who.is_staff, "open": calls.is_open(appointment, settings, now),
        "opens_minutes": settings.call_opens_minutes,
        "after_url": base.url(request, "appointment", id=appointment.id) if who.is_staff
        else base.url(request, "citizen_home") + "?done=call_ended"})


async def ticket(request: web.Request) -> web.Response:
    """A single-use ticket (valid a minute) for the appointment's worker or citizen to join its call, with the
    ICE servers (TURN credentials are short-lived and given only here, to call participants)."""
    who = base.actor(request)
    setup = await calls.set_up(base.db(request), who, base.object_id(request), base.settings(request),
                               base.now(request))
    return web.json_response({"ticket": setup.ticket, "socket": SOCKET_PATH, "expires_in": calls.TICKET_SECONDS,
                              "ice_servers": setup.ice_servers, "ice_transport_policy": setup.ice_transport_policy})


async def socket(request: web.Request) -> web.StreamResponse:
    """The signalling WebSocket: the join ticket arrives in the first message, never in the URL."""
    return await request.app[SIGNALING].handle(request)
