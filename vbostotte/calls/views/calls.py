"""Video calls: the call page, a join ticket for it, and the signalling WebSocket (handled by ``signaling``)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from vbostotte.calls import calls, guests
from vbostotte.identity import citizens, organisation, photos
from vbostotte.models import Appointment
from vbostotte.web import base, middlewares
from vbostotte.web.keys import SIGNALING

SOCKET_PATH = "/ws/calls"
WAIT_HELP_SECONDS = 300  # after this long in the waiting room, the page says whom to call (the team's number)
NOTE_ROUTE = "appointment_note"  # where the worker writes the session note; the appointment page until it exists


def call_context(
    request: web.Request,
    appointment: Appointment,
    *,
    is_host: bool,
    ticket_url: str,
    after_url: str,
    guest_name: str | None = None,
    done: str = "",
    **extra,
) -> dict:
    """What the call page needs, for the worker, the citizen and a guest alike."""
    now, settings = base.now(request), base.settings(request)
    return {
        "a": appointment,
        "is_host": is_host,
        "open": calls.is_open(appointment, settings, now),
        "opens_minutes": settings.call_opens_minutes,
        "ticket_url": ticket_url,
        "after_url": after_url,
        "guest_name": guest_name,
        "done": done,
        "guest_links": [],
        "relative_allowed": False,
        "relay_missing": False,
        "home_url": None,  # the citizen's own page (she may arrive here straight from her link)
        **extra,
    }


async def waiting_room(request: web.Request, appointment: Appointment, photo_route: tuple[str, dict]) -> dict:
    """What the waiting room shows a citizen or guest: who lets them in (the worker's first name, and photo if they
    added one: ``photo_route`` names its address), and whom to call if nobody comes (the team's number)."""
    db = base.db(request)
    names = await organisation.staff_names(db, {appointment.worker_id})
    version = await photos.version_of(db, appointment.worker_id)
    route, parts = photo_route
    return {
        "host_name": (names.get(appointment.worker_id, "").split() or [""])[0],
        "host_photo": base.url(request, route, **parts) + f"?v={version}" if version else None,
        "team": await citizens.team_to_call(db, appointment.citizen_id),
        "wait_help_seconds": WAIT_HELP_SECONDS,
    }


def after_call_url(request: web.Request, appointment: Appointment, is_host: bool) -> str:
    """Where the page goes when the call is over: the worker to the session note, the citizen to their page."""
    if not is_host:
        return base.url(request, "citizen_home") + "?done=call_ended"
    name = NOTE_ROUTE if NOTE_ROUTE in request.app.router.named_resources() else "appointment"
    return base.url(request, name, id=appointment.id)


async def page(request: web.Request) -> web.Response:
    """The call page: pre-join (camera preview, devices, Join), waiting room, the call itself."""
    who, db = base.actor(request), base.db(request)
    appointment = await calls.call_for(db, who, base.object_id(request), "call.page")
    # A relay-only citizen's call cannot start without TURN: the page says why instead of offering Join.
    citizen = await citizens.by_id(db, appointment.citizen_id)
    extra: dict[str, Any] = {"relay_missing": calls.relay_missing(citizen, base.settings(request))}
    if not who.is_staff:
        extra |= await waiting_room(request, appointment, ("staff_photo", {"id": appointment.worker_id}))
        extra["home_url"] = base.url(request, "citizen_home")
    if who.is_staff:
        settings, now = base.settings(request), base.now(request)
        extra |= {
            "guest_links": await guests.links_for(db, who, appointment, settings, now),
            "relative_allowed": await guests.relative_allowed(db, appointment),
        }
    return base.render(
        request,
        "calls/call.html",
        call_context(
            request,
            appointment,
            is_host=who.is_staff,
            ticket_url=base.url(request, "call_ticket", id=appointment.id),
            after_url=after_call_url(request, appointment, who.is_staff),
            done=request.query.get("done", ""),
            **extra,
        ),
    )


async def ticket(request: web.Request) -> web.Response:
    """A single-use ticket (valid a minute) for the appointment's worker or citizen to join its call, with the
    ICE servers (TURN credentials are short-lived and given only here, to call participants)."""
    who = base.actor(request)
    setup = await calls.set_up(
        base.db(request),
        who,
        base.object_id(request),
        base.settings(request),
        base.now(request),
        session_hash=base.web_session(request).id_hash,
    )
    return web.json_response(
        {
            "ticket": setup.ticket,
            "socket": SOCKET_PATH,
            "expires_in": calls.TICKET_SECONDS,
            "ice_servers": setup.ice_servers,
            "ice_transport_policy": setup.ice_transport_policy,
        }
    )


@middlewares.socket
def socket(request: web.Request) -> Awaitable[web.StreamResponse]:
    """The signalling WebSocket: the join ticket arrives in the first message, never in the URL."""
    return request.app[SIGNALING].handle(request)
