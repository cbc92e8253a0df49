"""The JSON API (``/api/v1``): appointments and availability for municipal systems, with the same
validation and authorisation as the pages. Bodies, queries and answers are the models of ``api_models`` (which also
generate ``/api/openapi.json``); errors are JSON (see ``middlewares.error_response``)."""

from __future__ import annotations

import datetime as dt
import re

from aiohttp import web

from vbostotte import access
from vbostotte.booking import appointments, availability, booking, lifecycle
from vbostotte.errors import InvalidInput
from vbostotte.i18n import N_, TZ
from vbostotte.models import Appointment, StaffRole
from vbostotte.web import api_models, base, security
from vbostotte.web.api_models import MAX_JSON, M

# What an Idempotency-Key may hold (the document's pattern): printable ASCII, 1 to 100 characters.
KEY_RE = re.compile(r"[\x20-\x7e]{1,100}")


def reply(answer: api_models.Response, status: int = 200) -> web.Response:
    """``answer`` as the JSON the document describes."""
    return web.json_response(text=answer.model_dump_json(), status=status)


def appointment_out(request: web.Request, a: Appointment) -> api_models.Appointment:
    """The appointment as the API shows it (its stored strings checked against the model's enums), with where it is
    in its life now (booking/lifecycle.py)."""
    state = lifecycle.state_of(a, base.now(request), base.settings(request).call_opens_minutes)
    return api_models.Appointment.model_validate(
        {
            "id": a.id,
            "citizen_id": a.citizen_id,
            "worker_id": a.worker_id,
            "kind": a.kind,
            "starts_at": a.starts_at,
            "ends_at": a.ends_at,
            "status": "cancelled" if a.cancelled_at else "booked",
            "state": state,
            "response": a.response,
            "cancelled_by": a.cancelled_by,
            "note_to_citizen": a.note_to_citizen,
            "attendance": a.attendance,
            "has_interpreter": a.has_interpreter,
        }
    )


async def read_body(request: web.Request, model: type[M], limit: int = MAX_JSON) -> M:
    """The request's JSON body (at most ``limit`` bytes) checked against ``model``: a message per refused field."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType()
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    raw = await request.read()
    if len(raw) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    return api_models.parse_json(model, raw)


def _staff(request: web.Request):
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER, StaffRole.SUPERVISOR)
    return who


async def session(request: web.Request) -> web.Response:
    who = _staff(request)
    return reply(api_models.Session(staff_id=who.id, role=who.role, csrf_token=security.csrf_token(request)))


async def list_appointments(request: web.Request) -> web.Response:
    who = _staff(request)
    query = api_models.parse(api_models.DayRange, dict(request.query))
    if not 0 <= (query.to - query.from_).days <= 92:
        raise InvalidInput({"to": N_("Choose at most 92 days.")})
    start = availability.to_utc(query.from_, 0)
    end = availability.to_utc(query.to + dt.timedelta(days=1), 0)
    rows = await appointments.in_range_for_staff(base.db(request), who, start, end)
    return reply(api_models.AppointmentList(appointments=[appointment_out(request, a) for a in rows]))


async def create_appointment(request: web.Request) -> web.Response:
    who = _staff(request)
    data = await read_body(request, api_models.NewAppointment)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not KEY_RE.fullmatch(key):
        raise InvalidInput({"Idempotency-Key": N_("This field is not valid.")})
    interpreter = data.interpreter
    now = base.now(request)
    appointment, created = await booking.book_or_replay(
        base.db(request),
        who,
        booking.BookingRequest(
            citizen_id=data.citizen_id,
            kind=data.kind,
            starts_at=data.starts_at,
            duration_minutes=data.duration_minutes,
            note_to_citizen=data.note_to_citizen,
            interpreter=booking.Interpreter(**interpreter.model_dump()) if interpreter else None,
            idempotency_key=key,
        ),
        now,
    )
    return reply(appointment_out(request, appointment), status=201 if created else 200)


async def get_appointment(request: web.Request) -> web.Response:
    who = _staff(request)
    appointment = await booking.appointment_for(base.db(request), who, base.object_id(request), "appointment.view")
    return reply(appointment_out(request, appointment))


async def cancel_appointment(request: web.Request) -> web.Response:
    who = _staff(request)
    access.require_role(who, StaffRole.WORKER)
    data = await read_body(request, api_models.Cancellation)
    appointment = await booking.cancel(
        base.db(request),
        who,
        base.object_id(request),
        data.reason,
        base.now(request),
        base.settings(request).call_opens_minutes,
    )
    return reply(appointment_out(request, appointment))


async def free_slots(request: web.Request) -> web.Response:
    who = _staff(request)
    access.require_role(who, StaffRole.WORKER)
    query = api_models.parse(api_models.SlotQuery, dict(request.query))
    free = await availability.availability(base.db(request), who.id, query.from_, query.days)
    slots = availability.free_slots(
        free.windows, free.busy, dt.timedelta(minutes=query.duration_minutes), base.now(request)
    )
    return reply(api_models.Slots(slots=slots, timezone=str(TZ)))


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(api_models.openapi(base.settings(request).base_url))
