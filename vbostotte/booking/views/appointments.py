"""Appointments: booking, the appointment page (reschedule, cancel, attendance, interpreter), working
hours, and the citizen's one-tap answers."""

from __future__ import annotations

import datetime as dt
import secrets

from aiohttp import web

from vbostotte import access, i18n
from vbostotte.booking import availability, booking, calendars, lifecycle
from vbostotte.calls import call_requests, calls
from vbostotte.errors import Conflict, InvalidInput
from vbostotte.i18n import N_, TZ
from vbostotte.identity import citizens
from vbostotte.models import AppointmentKind, Attendance, CallRequestAnswer, CitizenResponse, StaffRole
from vbostotte.privacy import consent
from vbostotte.reminders import outbox
from vbostotte.web import base
from vbostotte.web.validation import Form

DURATIONS = ("30", "45", "60", "90")
KINDS = tuple(kind.value for kind in AppointmentKind)
ATTENDANCE = tuple(value.value for value in Attendance)
WEEKDAYS = range(7)


def _when(form: Form, date_field: str = "date", time_field: str = "time") -> dt.datetime | None:
    """The form's local date and time as a UTC instant (a time skipped by the spring change is refused)."""
    day, minute = form.date(date_field), form.clock_time(time_field)
    if day is None or minute is None:
        return None
    try:
        return availability.to_utc(day, minute, field=time_field)
    except InvalidInput as exc:
        form.errors.update(exc.errors)
        return None


def _interpreter(form: Form) -> booking.Interpreter | None:
    name = form.text("interpreter_name", max_len=100, required=False)
    language = form.text("interpreter_language", max_len=50, required=False)
    email = form.email("interpreter_email", required=False)
    phone = form.phone("interpreter_phone")
    if not (name or language or email or phone):
        return None
    if not name:
        form.errors.setdefault("interpreter_name", N_("This field is required."))
    if not language:
        form.errors.setdefault("interpreter_language", N_("This field is required."))
    if not (email or phone) and "interpreter_email" not in form.errors:
        form.errors["interpreter_email"] = N_("Give the interpreter's e-mail or phone number.")
    return booking.Interpreter(name=name or "", language=language or "", email=email, phone=phone)


async def _new_context(request: web.Request, values: dict) -> dict:
    who, db, now = base.actor(request), base.db(request), base.now(request)
    caseload = await citizens.list_visible(db, who)
    first_day = now.astimezone(TZ).date()
    free = await availability.availability(db, who.known_id, first_day, 14)
    slots = availability.free_slots(free.windows, free.busy, dt.timedelta(minutes=45), now)[:12]
    return {"caseload": caseload, "slots": slots, "values": values, "errors": {}, "durations": DURATIONS}


async def new(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    if request.method != "POST":
        values = {
            "citizen_id": request.query.get("citizen_id", ""),
            "kind": "video",
            "duration": "45",
            "idempotency_key": secrets.token_urlsafe(16),
            # Proposing a time in answer to a citizen's "I'd like to talk to you" (calls/call_requests.py).
            "call_request": request.query.get("call_request", ""),
        }
        return base.render(request, "worker/appointment_new.html", await _new_context(request, values))
    data = await base.form(request)
    values = {k: v for k, v in data.items() if isinstance(v, str) and k != "csrf_token"}
    form = Form(data)
    citizen_id = form.integer("citizen_id")
    kind = form.choice("kind", KINDS)
    starts_at = _when(form)
    duration = form.choice("duration", DURATIONS)
    note = form.text("note_to_citizen", max_len=300, required=False)
    interpreter = _interpreter(form)
    key = form.text("idempotency_key", max_len=100, required=False)
    answering = form.integer("call_request", required=False)
    if answering is not None:  # another's request is not found (404), before anything is checked or booked
        await call_requests.request_for(base.db(request), who, answering)
    try:
        form.check()
        appointment = await booking.book(
            base.db(request),
            who,
            booking.BookingRequest(
                citizen_id=form.checked(citizen_id),
                kind=AppointmentKind(kind),
                starts_at=form.checked(starts_at),
                duration_minutes=int(form.checked(duration)),
                note_to_citizen=note,
                interpreter=interpreter,
                idempotency_key=key,
            ),
            base.now(request),
        )
    except InvalidInput as exc:
        return base.render_invalid(request, "worker/appointment_new.html", await _new_context(request, values), exc)
    except Conflict as exc:
        taken = InvalidInput({"time": exc.message}, message=exc.message)
        return base.render_invalid(request, "worker/appointment_new.html", await _new_context(request, values), taken)
    if answering is not None:
        await call_requests.answer(
            base.db(request), who, answering, CallRequestAnswer.PROPOSED, appointment, base.now(request)
        )
    raise base.redirect(request, "appointment", query={"done": "booked"}, id=appointment.id)


async def _page(request: web.Request, status: int = 200, errors: dict | None = None) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER, StaffRole.SUPERVISOR)
    db, now = base.db(request), base.now(request)
    appointment = await booking.appointment_for(db, who, base.object_id(request), "appointment.view")
    citizen = await citizens.by_id(db, appointment.citizen_id)
    settings = await outbox.municipality_settings(db, appointment.municipality_id)
    opens = base.settings(request).call_opens_minutes
    can = lifecycle.allowed(appointment, now, opens)
    context = {
        "a": appointment,
        "citizen": citizen,
        "now": now,
        "durations": DURATIONS,
        # The attendance choices the state allows (a held session cannot be marked as called off), and the one set.
        "attendance_values": [
            value
            for value in ATTENDANCE
            if lifecycle.ATTENDANCE_CHANGES[Attendance(value)] in can or value == appointment.attendance
        ],
        "follow_up": lifecycle.needs_follow_up(appointment, settings.confirm_cutoff_minutes, now, opens),
        # What the worker may do now (the forms and prompts shown): the appointment's state machine says.
        "can": {change.value for change in can},
        "can_record": any(change in can for change in lifecycle.ATTENDANCE_CHANGES.values()),
        "done": request.query.get("done", ""),
        "errors": errors or {},
        "values": {},
        "call_open": appointment.kind == AppointmentKind.VIDEO
        and appointment.worker_id == who.id
        and calls.is_open(appointment, base.settings(request), now),
        # A video session without the citizen's video consent is booked, but the worker is warned (docs/consent.md).
        "video_consent_missing": appointment.kind == AppointmentKind.VIDEO
        and appointment.cancelled_at is None
        and not await consent.has(db, appointment.citizen_id, consent.Kind.VIDEO),
        # A relay-only citizen's video session cannot start without TURN (calls/calls.py): say so beforehand.
        "relay_missing": appointment.kind == AppointmentKind.VIDEO
        and appointment.cancelled_at is None
        and calls.relay_missing(citizen, base.settings(request)),
    }
    return base.render(request, "worker/appointment.html", context, status=status)


async def show(request: web.Request) -> web.Response:
    return await _page(request)


async def _act(request: web.Request, work) -> web.Response:
    """Run one change on the appointment; a refused change shows the page again with the message."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    form = Form(await base.form(request))
    try:
        await work(who, form)
    except InvalidInput as exc:
        return await _page(request, status=422, errors={k: i18n.gettext(v) for k, v in exc.errors.items()})
    raise base.redirect(
        request, "appointment", query={"done": request.match_info.route.name or ""}, id=base.object_id(request)
    )


async def cancel(request: web.Request) -> web.Response:
    async def work(who, form: Form):
        reason = form.text("reason", max_len=300)
        form.check()
        await booking.cancel(
            base.db(request),
            who,
            base.object_id(request),
            form.checked(reason),
            base.now(request),
            base.settings(request).call_opens_minutes,
        )

    return await _act(request, work)


async def reschedule(request: web.Request) -> web.Response:
    async def work(who, form: Form):
        starts_at = _when(form)
        duration = form.choice("duration", DURATIONS)
        reason = form.text("reason", max_len=300)
        form.check()
        try:
            await booking.reschedule(
                base.db(request),
                who,
                base.object_id(request),
                form.checked(starts_at),
                int(form.checked(duration)),
                form.checked(reason),
                base.now(request),
            )
        except booking.SlotTaken as exc:
            raise InvalidInput({"time": exc.message}) from None

    return await _act(request, work)


async def attendance(request: web.Request) -> web.Response:
    async def work(who, form: Form):
        value = form.choice("attendance", ATTENDANCE)
        form.check()
        await booking.record_attendance(
            base.db(request),
            who,
            base.object_id(request),
            Attendance(value),
            base.now(request),
            base.settings(request).call_opens_minutes,
        )

    return await _act(request, work)


async def release_interpreter(request: web.Request) -> web.Response:
    async def work(who, form: Form):
        await booking.release_interpreter(base.db(request), who, base.object_id(request), base.now(request))

    return await _act(request, work)


async def respond(request: web.Request) -> web.Response:
    """The citizen's one tap: "I'm coming" or "I can't come"."""
    who = base.actor(request)
    form = Form(await base.form(request))
    answer = form.choice("response", (CitizenResponse.CONFIRMED.value, CitizenResponse.CANT_COME.value))
    form.check()
    answer = form.checked(answer)
    await booking.respond(
        base.db(request),
        who,
        base.object_id(request),
        CitizenResponse(answer),
        base.now(request),
        base.settings(request).call_opens_minutes,
    )
    # Back where the tap was: the start page (the next appointment) or the page of all appointments.
    back = "citizen_appointments" if form.data.get("back") == "appointments" else "citizen_home"
    raise base.redirect(request, back, query={"done": answer})


async def working_hours(request: web.Request) -> web.Response:
    """The worker's weekly bookable hours and the hours they answer messages (Copenhagen time)."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db = base.db(request)
    if request.method == "POST":
        form = Form(await base.form(request))
        rows: dict[str, list[tuple[int, int, int]]] = {"work": [], "messages": []}
        for kind in rows:
            for day in WEEKDAYS:
                start = form.clock_time(f"{kind}_{day}_start", required=False)
                end = form.clock_time(f"{kind}_{day}_end", required=False)
                if start is None and end is None:
                    continue
                if start is None or end is None or end <= start:
                    form.errors.setdefault(f"{kind}_{day}_end", N_("The end must be after the start."))
                    continue
                rows[kind].append((day, start, end))
        try:
            form.check()
        except InvalidInput as exc:
            context = {
                "hours": _hours_values(form.data),
                "weekdays": WEEKDAYS,
                "done": "",
                **await _feed_context(request),
            }
            return base.render_invalid(request, "worker/availability.html", context, exc)
        for kind, kind_rows in rows.items():
            await availability.set_working_hours(db, who, kind_rows, kind)
        raise base.redirect(request, "working_hours", query={"done": "saved"})
    return await hours_page(request)


async def _feed_context(request: web.Request, feed_url: str | None = None) -> dict:
    """The calendar feed section at the end of the page (see booking/views/calendars.py)."""
    return {"feed": await calendars.active_feed(base.db(request), base.actor(request).known_id), "feed_url": feed_url}


async def hours_page(request: web.Request, feed_url: str | None = None) -> web.Response:
    """The working-hours page as saved; ``feed_url`` is a new calendar feed address, shown only now."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    saved = await availability.hours_of(base.db(request), who.known_id)
    return base.render(
        request,
        "worker/availability.html",
        {
            "hours": {
                f"{kind}_{day}_{edge}": f"{minute // 60:02d}:{minute % 60:02d}"
                for kind, day, start, end in saved
                for edge, minute in (("start", start), ("end", end))
            },
            "weekdays": WEEKDAYS,
            "errors": {},
            "done": request.query.get("done", ""),
            **await _feed_context(request, feed_url),
        },
    )


def _hours_values(data) -> dict[str, str]:
    return {k: v for k, v in data.items() if isinstance(v, str) and k.startswith(("work_", "messages_"))}


async def absences(request: web.Request) -> web.Response:
    """The worker's holidays and sick days: not bookable."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db, now = base.db(request), base.now(request)
    context = {
        "absences": await availability.absences_of(db, who, now),
        "reasons": availability.ABSENCE_REASONS,
        "values": {},
        "errors": {},
        "done": request.query.get("done", ""),
    }
    if request.method != "POST":
        return base.render(request, "worker/absences.html", context)
    data = await base.form(request)
    form = Form(data)
    first, last = form.date("first_day"), form.date("last_day")
    reason = form.choice("reason", availability.ABSENCE_REASONS)
    if first and last and (last < first or (last - first).days > 366):
        form.errors["last_day"] = N_("The last day must be on or after the first day, and within a year.")
    try:
        form.check()
        first, last = form.checked(first), form.checked(last)
        await availability.add_absence(
            db,
            who,
            form.checked(reason),
            availability.to_utc(first, 0),
            availability.to_utc(last + dt.timedelta(days=1), 0),
        )
    except InvalidInput as exc:
        context["values"] = {k: v for k, v in data.items() if k in ("first_day", "last_day", "reason")}
        return base.render_invalid(request, "worker/absences.html", context, exc)
    raise base.redirect(request, "absences", query={"done": "added"})


async def absence_remove(request: web.Request) -> web.Response:
    who = base.actor(request)
    await availability.remove_absence(base.db(request), who, base.object_id(request))
    raise base.redirect(request, "absences", query={"done": "removed"})
