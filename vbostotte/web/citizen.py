"""The citizen's own pages. The start page answers "what do I do now?": when a video session's call is open (or
opens within a few minutes) it shows that call, who and when, with one big button into it; otherwise the next
appointment with its one-tap answers. Everything else is a short page of its own behind a menu of big buttons: all
appointments, how I am today, my day, my goals, notes shared with me, when I can write, my consents (my data is
``privacy/views/data_export.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.actors import Actor
from vbostotte.booking import appointments, availability, lifecycle
from vbostotte.calls import call_requests, calls
from vbostotte.care import sections
from vbostotte.config import Settings
from vbostotte.errors import PermissionDenied
from vbostotte.identity import citizens
from vbostotte.models import Appointment, AppointmentKind
from vbostotte.privacy import consent
from vbostotte.reminders import outbox
from vbostotte.web import base

SOON_MINUTES = 15  # a call that opens within this long is already the one thing on the start page


def _citizen(request: web.Request) -> Actor:
    who = base.actor(request)
    if not who.is_citizen:
        raise PermissionDenied()
    return who


def _call_now(upcoming: Sequence[Appointment], settings: Settings, now: dt.datetime) -> Appointment | None:
    """The video session whose call is open now or opens within SOON_MINUTES, if there is one."""
    soon = now + dt.timedelta(minutes=SOON_MINUTES)
    for a in upcoming:
        if a.kind == AppointmentKind.VIDEO and (calls.is_open(a, settings, now) or calls.is_open(a, settings, soon)):
            return a
    return None


def _answerable(upcoming: Sequence[Appointment], settings: Settings, now: dt.datetime) -> set[int]:
    """The appointments the citizen may still answer ("I'm coming", "I can't come"): the state machine says."""
    return {a.id for a in upcoming if lifecycle.citizen_can_answer(a, now, settings.call_opens_minutes)}


def _opens_at(appointment: Appointment, settings: Settings) -> dt.datetime:
    return appointment.starts_at - dt.timedelta(minutes=settings.call_opens_minutes)


async def _contacts(db: AsyncSession, who: Actor, now: dt.datetime) -> tuple[list[dict[str, Any]], str]:
    """The citizen's workers' message hours, and the crisis line's text when none of them answers now."""
    citizen = await citizens.by_id(db, who.known_id)
    workers = await citizens.workers_of(db, citizen)
    hours = await availability.message_hours(db, [w.id for w in workers])
    contacts = [
        {"name": w.name.split()[0], "hours": hours[w.id], "now": availability.answering_now(hours[w.id], now)}
        for w in workers
    ]
    crisis = (await outbox.municipality_settings(db, who.known_municipality_id)).crisis_line_text
    return contacts, crisis if not any(c["now"] for c in contacts) else ""


async def home(request: web.Request) -> web.Response:
    """The start page: the call now, or the next appointment; then the menu."""
    who = _citizen(request)
    db, now, settings = base.db(request), base.now(request), base.settings(request)
    upcoming = await appointments.upcoming_for_citizen(db, who, now)
    call = _call_now(upcoming, settings, now)
    call_open = call is not None and calls.is_open(call, settings, now)
    contacts, crisis = await _contacts(db, who, now)
    # "I'd like to talk to you": only while one of the citizen's workers answers (else the crisis line shows).
    answering = any(c["now"] for c in contacts)
    can_ask = answering and await call_requests.asked_today(db, who.known_id, now) < call_requests.DAILY_LIMIT
    return base.render(
        request,
        "citizen/home.html",
        {
            "can_ask": can_ask and not call,
            "asked_enough": answering and not can_ask,
            "call": call,
            "call_open": call_open,
            "call_opens_at": _opens_at(call, settings) if call else None,
            # Until the call opens, the page reloads itself then, so the button is there when it may be used.
            "reload_in": int((_opens_at(call, settings) - now).total_seconds()) + 1 if call and not call_open else 0,
            "next": None if call or not upcoming else upcoming[0],
            "team": await citizens.team_to_call(db, who.known_id)
            if call
            else None,  # whom to call if nobody lets them in
            "more_appointments": max(0, len(upcoming) - 1),  # besides the one shown
            "answerable": _answerable(upcoming, settings, now),
            "done": request.query.get("done", ""),
            "crisis_line_text": crisis,
        },
    )


async def appointments_page(request: web.Request) -> web.Response:
    """All the citizen's coming appointments, each with its answers (and the call's button while it is open)."""
    who = _citizen(request)
    db, now, settings = base.db(request), base.now(request), base.settings(request)
    upcoming = await appointments.upcoming_for_citizen(db, who, now)
    return base.render(
        request,
        "citizen/appointments.html",
        {
            "appointments": upcoming,
            "open_calls": {
                a.id for a in upcoming if a.kind == AppointmentKind.VIDEO and calls.is_open(a, settings, now)
            },
            "answerable": _answerable(upcoming, settings, now),
            "done": request.query.get("done", ""),
        },
    )


async def checkin_page(request: web.Request) -> web.Response:
    """How am I today: one tap on a face."""
    who = _citizen(request)
    context = await sections.citizen_checkin(base.db(request), who, base.now(request))
    return base.render(request, "citizen/checkin.html", {**context, "done": request.query.get("done", "")})


async def day_page(request: web.Request) -> web.Response:
    """My day: today's few tasks, and at the end of the day how far I got."""
    who = _citizen(request)
    context = await sections.citizen_day(base.db(request), who, base.now(request))
    return base.render(request, "citizen/day.html", {**context, "done": request.query.get("done", "")})


def _celebrated_goal(request: web.Request) -> int | None:
    """The goal just achieved (``?goal=``, after the citizen ticked its last step), if the query names one."""
    celebrated = request.query.get("goal", "")
    return int(celebrated) if celebrated.isascii() and celebrated.isdecimal() and len(celebrated) < 10 else None


async def goals_page(request: web.Request) -> web.Response:
    """My goals, a tap per step, and a celebration when one is reached."""
    who = _citizen(request)
    context = await sections.citizen_goals(base.db(request), who, _celebrated_goal(request))
    return base.render(request, "citizen/goals.html", {**context, "done": request.query.get("done", "")})


async def notes_page(request: web.Request) -> web.Response:
    """The notes my support worker shared with me."""
    who = _citizen(request)
    return base.render(request, "citizen/notes.html", await sections.citizen_notes(base.db(request), who))


async def contact_page(request: web.Request) -> web.Response:
    """When I can write to my support workers, and where to turn when nobody answers."""
    who = _citizen(request)
    db = base.db(request)
    contacts, crisis = await _contacts(db, who, base.now(request))
    return base.render(
        request,
        "citizen/contact.html",
        {"contacts": contacts, "crisis_line_text": crisis, "team": await citizens.team_to_call(db, who.known_id)},
    )


async def consents_page(request: web.Request) -> web.Response:
    """What I have said yes to: each consent in plain words, given or withdrawn with one tap."""
    who = _citizen(request)
    states = await consent.read_states(base.db(request), who, who.known_id, audit.Purpose.SELF_SERVICE)
    return base.render(request, "citizen/consents.html", {"consents": states, "done": request.query.get("done", "")})
