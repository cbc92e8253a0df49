"""The JSON API (``/api/v1``): appointments and availability for municipal systems, with the same
validation and authorisation as the pages. Errors are JSON (see ``middlewares.error_response``)."""

from __future__ import annotations

import datetime as dt
import json

from aiohttp import web

from vbostotte import access
from vbostotte.booking import appointments, availability, booking
from vbostotte.errors import InvalidInput
from vbostotte.i18n import N_, TZ
from vbostotte.models import Appointment, AppointmentKind, StaffRole
from vbostotte.web import base, security
from vbostotte.web.api_schema import (
    CANCEL,
    MAX_JSON,
    NEW_APPOINTMENT,
    NOTE_DRAFT,
    OFFER,
    Field,
    Operation,
    openapi,
    validate,
)

RANGE = (
    Field("from", "date", True, "First day (Copenhagen)."),
    Field("to", "date", True, "Last day, at most 92 days on."),
)
SLOTS_QUERY = (
    Field("from", "date", True),
    Field("days", "integer", True, minimum=1, maximum=62),
    Field("duration_minutes", "integer", True, minimum=15, maximum=240),
)
OPERATIONS = [
    Operation(
        "get",
        "/api/v1/session",
        "Who is signed in, and the CSRF token for state-changing requests",
        responses={200: "Session", 401: "Error"},
    ),
    Operation(
        "get",
        "/api/v1/appointments",
        "Appointments of the caller's citizens in a date range",
        query=RANGE,
        responses={200: "AppointmentList", 401: "Error", 403: "Error", 422: "Error"},
    ),
    Operation(
        "post",
        "/api/v1/appointments",
        "Book an appointment (idempotent with Idempotency-Key)",
        body=NEW_APPOINTMENT,
        responses={201: "Appointment", 200: "Appointment", 409: "Error", 422: "Error"},
    ),
    Operation("get", "/api/v1/appointments/{id}", "One appointment", responses={200: "Appointment", 404: "Error"}),
    Operation(
        "post",
        "/api/v1/appointments/{id}/cancel",
        "Cancel an appointment",
        body=CANCEL,
        responses={200: "Appointment", 404: "Error", 409: "Error", 422: "Error"},
    ),
    Operation(
        "get",
        "/api/v1/availability",
        "The caller's free start times",
        query=SLOTS_QUERY,
        responses={200: "Slots", 403: "Error", 422: "Error"},
    ),
    Operation(
        "post",
        "/api/v1/connection-test/offer",
        "The connection test page's WebRTC offer, answered by a server peer that echoes its media",
        body=OFFER,
        responses={200: "SessionDescription", 401: "Error", 422: "Error", 503: "Error"},
    ),
    Operation(
        "post",
        "/api/v1/notes/{id}/draft",
        "Autosave a session note's open draft (its author only; a signed note is refused with 409)",
        body=NOTE_DRAFT,
        responses={200: "NoteDraftSaved", 403: "Error", 404: "Error", 409: "Error", 422: "Error"},
    ),
]
DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    401: "Not signed in",
    403: "Not allowed for this role",
    404: "Not found (or not yours)",
    409: "Conflicts with another appointment or its state",
    422: "Invalid input: a message per field",
    503: "Busy: try again shortly",
}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if moment else None


def appointment_json(a: Appointment) -> dict:
    return {
        "id": a.id,
        "citizen_id": a.citizen_id,
        "worker_id": a.worker_id,
        "kind": a.kind.value,
        "starts_at": _iso(a.starts_at),
        "ends_at": _iso(a.ends_at),
        "status": "cancelled" if a.cancelled_at else "booked",
        "response": a.response,
        "cancelled_by": a.cancelled_by,
        "note_to_citizen": a.note_to_citizen,
        "attendance": a.attendance,
        "has_interpreter": a.has_interpreter,
    }


async def read_json(request: web.Request, limit: int = MAX_JSON) -> object:
    """The request's JSON body (at most ``limit`` bytes), not yet validated."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType()
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    raw = await request.read()
    if len(raw) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput({"body": N_("The request body is not valid JSON.")}) from None


def _staff(request: web.Request):
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER, StaffRole.SUPERVISOR)
    return who


async def session(request: web.Request) -> web.Response:
    who = _staff(request)
    return web.json_response({"staff_id": who.id, "role": who.role, "csrf_token": security.csrf_token(request)})


async def list_appointments(request: web.Request) -> web.Response:
    who = _staff(request)
    query = validate(RANGE, dict(request.query))
    if not 0 <= (query["to"] - query["from"]).days <= 92:
        raise InvalidInput({"to": N_("Choose at most 92 days.")})
    start = availability.to_utc(query["from"], 0)
    end = availability.to_utc(query["to"] + dt.timedelta(days=1), 0)
    rows = await appointments.in_range_for_staff(base.db(request), who, start, end)
    return web.json_response({"appointments": [appointment_json(a) for a in rows]})


async def create_appointment(request: web.Request) -> web.Response:
    who = _staff(request)
    data = validate(NEW_APPOINTMENT, await read_json(request))
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 100 and key.isprintable()):
        raise InvalidInput({"Idempotency-Key": N_("This field is not valid.")})
    interpreter = data.get("interpreter")
    now = base.now(request)
    appointment, created = await booking.book_or_replay(
        base.db(request),
        who,
        booking.BookingRequest(
            citizen_id=data["citizen_id"],
            kind=AppointmentKind(data["kind"]),
            starts_at=data["starts_at"],
            duration_minutes=data["duration_minutes"],
            note_to_citizen=data.get("note_to_citizen"),
            interpreter=booking.Interpreter(**interpreter) if interpreter else None,
            idempotency_key=key,
        ),
        now,
    )
    return web.json_response(appointment_json(appointment), status=201 if created else 200)


async def get_appointment(request: web.Request) -> web.Response:
    who = _staff(request)
    appointment = await booking.appointment_for(base.db(request), who, base.object_id(request), "appointment.view")
    return web.json_response(appointment_json(appointment))


async def cancel_appointment(request: web.Request) -> web.Response:
    who = _staff(request)
    access.require_role(who, StaffRole.WORKER)
    data = validate(CANCEL, await read_json(request))
    appointment = await booking.cancel(
        base.db(request), who, base.object_id(request), data["reason"], base.now(request)
    )
    return web.json_response(appointment_json(appointment))


async def free_slots(request: web.Request) -> web.Response:
    who = _staff(request)
    access.require_role(who, StaffRole.WORKER)
    raw = {
        k: (int(v) if k in ("days", "duration_minutes") and v.isdigit() and len(v) < 6 else v)
        for k, v in request.query.items()
    }
    query = validate(SLOTS_QUERY, raw)
    free = await availability.availability(base.db(request), who.id, query["from"], query["days"])
    slots = availability.free_slots(
        free.windows, free.busy, dt.timedelta(minutes=query["duration_minutes"]), base.now(request)
    )
    return web.json_response({"slots": [_iso(s) for s in slots], "timezone": str(TZ)})


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(openapi(OPERATIONS, base.settings(request).base_url, DESCRIPTIONS.get))
