"""Calendar files: an appointment's .ics for staff and for the citizen, the worker's private feed
(fetched by calendar apps without a session), and creating or stopping the feed's address."""

from __future__ import annotations

from aiohttp import web

from vbostotte.booking import calendars
from vbostotte.booking.views.appointments import hours_page
from vbostotte.models import Appointment
from vbostotte.web import base

CONTENT_TYPE = "text/calendar"


def _absolute(request: web.Request, name: str, **parts) -> str:
    return base.settings(request).base_url.rstrip("/") + base.url(request, name, **parts)


def _ics(body: bytes, filename: str | None = None) -> web.Response:
    response = web.Response(body=body, content_type=CONTENT_TYPE, charset="utf-8")
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _staff_link(request: web.Request):
    return lambda appointment: _absolute(request, "appointment", id=appointment.id)


async def staff_download(request: web.Request) -> web.Response:
    """GET /appointments/{id}.ics — for staff with access to the appointment's citizen."""
    who, appointment_id = base.actor(request), base.object_id(request)
    body = await calendars.for_staff(
        base.db(request), who, appointment_id, base.settings(request), base.now(request), _staff_link(request)
    )
    return _ics(body, f"appointment-{appointment_id}.ics")


async def citizen_download(request: web.Request) -> web.Response:
    """GET /me/appointments/{id}.ics — the citizen's own appointment."""
    who, appointment_id = base.actor(request), base.object_id(request)

    def to_my_page(_: Appointment) -> str:
        return _absolute(request, "citizen_home")

    body = await calendars.for_citizen(
        base.db(request), who, appointment_id, base.settings(request), base.now(request), to_my_page
    )
    return _ics(body, f"appointment-{appointment_id}.ics")


async def feed(request: web.Request) -> web.Response:
    """GET /calendar/{token}.ics — no session: the unguessable, revocable token is the key."""
    body = await calendars.feed(
        base.db(request), request.match_info["token"], base.settings(request), base.now(request), _staff_link(request)
    )
    return _ics(body)


async def feed_create(request: web.Request) -> web.Response:
    """Make a new feed address (stopping any earlier one). It is shown once, in this response."""
    who = base.actor(request)
    token = await calendars.create_feed(base.db(request), who, base.now(request))
    return await hours_page(request, feed_url=_absolute(request, "calendar_feed", token=token))


async def feed_revoke(request: web.Request) -> web.Response:
    who = base.actor(request)
    await calendars.revoke_feed(base.db(request), who, base.now(request))
    raise base.redirect(request, "working_hours", query={"done": "feed_revoked"})
