"""The appointment's life, in one place: its states, every change that may be asked of it, and the one table
saying which change is allowed in which state and where it leads (docs/appointments.md draws it).

Nothing else decides whether an appointment may be answered, cancelled, moved, marked or reminded of: the pages,
the JSON API, the call (which marks the citizen as having attended when she joins) and the outbox (reminders,
the interpreter's notices) all ask :func:`check` or :func:`permits`. A refused change raises
:class:`ChangeRefused` (a ``Conflict``: 409, in Danish) before anything is written or any message is planned.

The state is not a column: it is read from what the appointment records (cancelled, by whom, the citizen's
answer, attendance) and the time. "Moved" is a change, not a place to stay: a moved appointment is booked again
at its new time, and the citizen is asked again.
"""

from __future__ import annotations

import datetime as dt
import enum

from vbostotte.errors import Conflict
from vbostotte.i18n import N_
from vbostotte.models import Appointment, Attendance, CitizenResponse

# VB_CALL_OPENS_MINUTES' default (vbostotte/config.py); the pages, the API and the outbox pass the setting.
DEFAULT_OPENS_MINUTES = 15


class State(enum.StrEnum):
    BOOKED = "booked"  # booked (or moved), the citizen has not answered
    CONFIRMED = "confirmed"  # the citizen said "I'm coming"
    OPEN = "open"  # the call has opened (a home visit: its time has come): no more answers from the citizen
    PAST = "past"  # its planned end has passed and nobody has recorded how it went
    HELD = "held"  # the citizen attended (the call marks it when she joins, or the worker records it)
    NO_SHOW = "no_show"  # the citizen did not come
    CALLED_OFF = "called_off"  # the worker recorded that the citizen called it off (late or in time)
    DECLINED = "declined"  # the citizen tapped "I can't come": cancelled by the citizen
    CANCELLED_BY_CITIZEN = "cancelled_by_citizen"
    CANCELLED_BY_WORKER = "cancelled_by_worker"


class Change(enum.StrEnum):
    CONFIRM = "confirm"  # the citizen: "I'm coming"
    DECLINE = "decline"  # the citizen: "I can't come"
    CANCEL_BY_CITIZEN = "cancel_by_citizen"
    CANCEL_BY_WORKER = "cancel_by_worker"  # the worker's page, or the JSON API
    MOVE = "move"  # the worker moves it to another time
    CITIZEN_JOINED = "citizen_joined"  # the call: the citizen joined it, so she attended
    RECORD_ATTENDED = "record_attended"  # the worker records attendance …
    RECORD_NO_SHOW = "record_no_show"
    RECORD_CALLED_OFF = "record_called_off"
    RELEASE_INTERPRETER = "release_interpreter"
    REMIND = "remind"  # the outbox sends the citizen a reminder
    INVITE_INTERPRETER = "invite_interpreter"  # the outbox sends the interpreter's invitation or reminder
    OPENS = "opens"  # the clock: the call opens (not asked for: drawn in the diagram, never checked)
    ENDS = "ends"  # the clock: the planned end passes
    CALL_NOW = "call_now"  # the worker starts an unscheduled video session at once: it begins open


S, C = State, Change
COMING = (S.BOOKED, S.CONFIRMED)  # not begun, not answered "no"
ACTIVE = (S.BOOKED, S.CONFIRMED, S.OPEN)  # still to take place
TO_RECORD = (S.OPEN, S.PAST)  # its time has come and nothing is recorded yet
RECORDED = (S.HELD, S.NO_SHOW, S.CALLED_OFF)
CANCELLED = (S.DECLINED, S.CANCELLED_BY_CITIZEN, S.CANCELLED_BY_WORKER)

# Every allowed change, as (from, change) -> to. What is not here is refused. A change that leads back to the
# state it came from (asking to cancel what is already cancelled, a reminder) changes nothing on the appointment.
TRANSITIONS: dict[tuple[State, Change], State] = {
    **{(s, C.CONFIRM): S.CONFIRMED for s in COMING},
    **{(s, C.DECLINE): S.DECLINED for s in COMING},
    **{(s, C.CANCEL_BY_CITIZEN): S.CANCELLED_BY_CITIZEN for s in COMING},
    **{(s, C.CANCEL_BY_WORKER): S.CANCELLED_BY_WORKER for s in ACTIVE},
    **{(s, change): s for s in CANCELLED for change in (C.CANCEL_BY_WORKER, C.CANCEL_BY_CITIZEN)},  # a repeat
    **{(s, C.MOVE): S.BOOKED for s in ACTIVE},
    **{(s, C.OPENS): S.OPEN for s in COMING},
    (S.OPEN, C.ENDS): S.PAST,
    **{(s, C.CITIZEN_JOINED): S.HELD for s in (*ACTIVE, S.PAST, S.HELD)},
    **{(s, C.RECORD_ATTENDED): S.HELD for s in (*TO_RECORD, *RECORDED)},
    **{(s, C.RECORD_NO_SHOW): S.NO_SHOW for s in (*TO_RECORD, *RECORDED)},
    # A held session is not turned into a cancelled one afterwards, by anyone.
    **{(s, C.RECORD_CALLED_OFF): S.CALLED_OFF for s in (*TO_RECORD, S.NO_SHOW, S.CALLED_OFF)},
    **{(s, C.RELEASE_INTERPRETER): s for s in ACTIVE},
    **{(s, C.REMIND): s for s in ACTIVE},
    **{(s, C.INVITE_INTERPRETER): s for s in ACTIVE},
}

# How an appointment comes to be (drawn from [*]): booked ahead, or started at once by the worker ("call now").
BEGINNINGS: dict[str, State] = {"book": S.BOOKED, C.CALL_NOW.value: S.OPEN}

CLOCK_CHANGES = (C.OPENS, C.ENDS)
CANCEL_CHANGES = (C.CANCEL_BY_WORKER, C.CANCEL_BY_CITIZEN)
ATTENDANCE_CHANGES = {
    Attendance.ATTENDED: C.RECORD_ATTENDED,
    Attendance.NO_SHOW: C.RECORD_NO_SHOW,
    Attendance.CANCELLED_LATE: C.RECORD_CALLED_OFF,
    Attendance.CANCELLED_IN_TIME: C.RECORD_CALLED_OFF,
}

TAKEN_PLACE = N_("This session has already taken place.")
NO_LONGER = N_("This appointment can no longer be changed.")
# Why a change is refused, by the state it was asked of (and, where it matters, by the change).
REFUSALS: dict[State, str] = {
    S.BOOKED: N_("Attendance can be recorded once the appointment has begun."),
    S.CONFIRMED: N_("Attendance can be recorded once the appointment has begun."),
    S.OPEN: N_("The session has begun, so you can no longer answer here. If you cannot come, please call us."),
    S.PAST: NO_LONGER,
    S.HELD: TAKEN_PLACE,
    S.NO_SHOW: NO_LONGER,
    S.CALLED_OFF: NO_LONGER,
    S.DECLINED: N_("This appointment is cancelled."),
    S.CANCELLED_BY_CITIZEN: N_("This appointment is cancelled."),
    S.CANCELLED_BY_WORKER: N_("This appointment is cancelled."),
}


class ChangeRefused(Conflict):
    """The change is not allowed in the appointment's state (the message says why, in the reader's words)."""

    def __init__(self, state: State, change: Change) -> None:
        super().__init__(REFUSALS[state])
        self.state, self.change = state, change


def state_of(appointment: Appointment, now: dt.datetime, opens_minutes: int = DEFAULT_OPENS_MINUTES) -> State:
    """Where the appointment is now, read from what it records and the time."""
    if appointment.cancelled_at is not None:
        if appointment.cancelled_by == "citizen":
            return S.DECLINED if appointment.response == CitizenResponse.CANT_COME.value else S.CANCELLED_BY_CITIZEN
        return S.CANCELLED_BY_WORKER
    if appointment.attendance == Attendance.ATTENDED.value:
        return S.HELD
    if appointment.attendance == Attendance.NO_SHOW.value:
        return S.NO_SHOW
    if appointment.attendance is not None:
        return S.CALLED_OFF
    if now >= appointment.ends_at:
        return S.PAST
    if now >= appointment.starts_at - dt.timedelta(minutes=opens_minutes):
        return S.OPEN
    return S.CONFIRMED if appointment.response == CitizenResponse.CONFIRMED.value else S.BOOKED


def begins(how: str, appointment: Appointment, now: dt.datetime, opens_minutes: int = DEFAULT_OPENS_MINUTES) -> None:
    """Refuse a new appointment that would not begin where ``how`` (a key of BEGINNINGS) says it begins."""
    state = state_of(appointment, now, opens_minutes)
    if state != BEGINNINGS[how]:
        raise ChangeRefused(state, C.CALL_NOW if how == C.CALL_NOW.value else C.MOVE)


def target(state: State, change: Change) -> State | None:
    """Where ``change`` leads from ``state``; None if it is not allowed."""
    return TRANSITIONS.get((state, change))


def permits(state: State, change: Change) -> bool:
    return (state, change) in TRANSITIONS


def check(
    appointment: Appointment, change: Change, now: dt.datetime, opens_minutes: int = DEFAULT_OPENS_MINUTES
) -> tuple[State, State]:
    """(the state now, the state ``change`` leads to), or :class:`ChangeRefused`."""
    state = state_of(appointment, now, opens_minutes)
    to = target(state, change)
    if to is None:
        raise ChangeRefused(state, change)
    return state, to


def allowed(appointment: Appointment, now: dt.datetime, opens_minutes: int = DEFAULT_OPENS_MINUTES) -> set[Change]:
    """The changes a page may offer now: those allowed, but for cancelling what is cancelled (allowed, so that a
    retry is safe, but not offered)."""
    state = state_of(appointment, now, opens_minutes)
    return {
        change
        for (source, change), to in TRANSITIONS.items()
        if source == state and change not in CLOCK_CHANGES and not (to == state and change in CANCEL_CHANGES)
    }


def citizen_can_answer(appointment: Appointment, now: dt.datetime, opens_minutes: int = DEFAULT_OPENS_MINUTES) -> bool:
    """May the citizen still say "I'm coming" or "I can't come"?"""
    return permits(state_of(appointment, now, opens_minutes), C.DECLINE)


def needs_follow_up(
    appointment: Appointment, cutoff_minutes: int, now: dt.datetime, opens_minutes: int = DEFAULT_OPENS_MINUTES
) -> bool:
    """Not confirmed by the cut-off before the start, and still to take place: the worker should call the citizen."""
    return (
        state_of(appointment, now, opens_minutes) in (S.BOOKED, S.OPEN)
        and appointment.response == CitizenResponse.NONE.value
        and not appointment.unscheduled  # a call started at once is not answered ahead
        and now >= appointment.starts_at - dt.timedelta(minutes=cutoff_minutes)
    )


def mermaid() -> str:
    """The table as a Mermaid state diagram (docs/appointments.md holds it; a test keeps the two the same)."""
    lines = ["stateDiagram-v2", *(f"    [*] --> {to.value}: {how}" for how, to in BEGINNINGS.items())]
    by_edge: dict[tuple[State, State], list[str]] = {}
    for (source, change), to in TRANSITIONS.items():
        if source == to and change != C.MOVE:
            continue  # repeats and side changes (reminders, releasing the interpreter) stay in the table only
        by_edge.setdefault((source, to), []).append(change.value)
    for (source, to), changes in by_edge.items():
        lines.append(f"    {source.value} --> {to.value}: {', '.join(changes)}")
    lines += [f"    {s.value} --> [*]" for s in CANCELLED]
    return "\n".join(lines)
