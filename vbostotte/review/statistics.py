"""Statistics for supervisors: appointments held, attendance (and what reminders and confirmations do to it),
video sessions, interpreters and driving time saved — per team, per worker and per period.

Everything is counted by SQL aggregates: the appointments in one grouped pass, the calls in another that gives
one row per call (its duration, flags and the citizen's waiting time, summed and the medians taken in Python).

Definitions (see docs/review-and-statistics.md):

* an appointment belongs to the period by its start (Copenhagen days), and to the team of its citizen;
* *cancelled*: cancelled in the system, or attendance recorded as a late or timely cancellation;
* *held*: not cancelled and attendance "attended"; *no-show*: not cancelled and attendance "did not come";
* *attendance rate*: held / (held + no-shows);
* *reminded*: a reminder to the citizen was sent (an outbox row with status "sent", ``OutboxStatus.SENT``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import statistics as pystats
from dataclasses import dataclass

from sqlalchemy import Interval, and_, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import models
from vbostotte.calls import endings
from vbostotte.i18n import TZ
from vbostotte.models import (
    Appointment,
    AppointmentKind,
    CallEvent,
    CallEventName,
    Citizen,
    OutboxMessage,
    OutboxStatus,
    PrincipalKind,
    Staff,
    Team,
)

MAX_DAYS = 400


@dataclass(frozen=True)
class Period:
    """Whole Copenhagen days from ``first`` to ``last``, both included."""

    first: dt.date
    last: dt.date

    @property
    def starts(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), TZ).astimezone(dt.UTC)

    @property
    def ends(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), TZ).astimezone(dt.UTC)

    @classmethod
    def week_of(cls, day: dt.date) -> Period:
        monday = day - dt.timedelta(days=day.weekday())
        return cls(monday, monday + dt.timedelta(days=6))

    @classmethod
    def month_of(cls, day: dt.date) -> Period:
        first = day.replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return cls(first, following - dt.timedelta(days=1))


@dataclass(frozen=True)
class Scope:
    """Which appointments count: the citizens of ``team_ids``, optionally one worker's appointments only."""

    municipality_id: int
    team_ids: tuple[int, ...]
    worker_id: int | None = None


@dataclass
class Counts:
    booked: int = 0
    held: int = 0
    cancelled: int = 0
    no_show: int = 0
    video_booked: int = 0
    video_held: int = 0
    home_visits_booked: int = 0
    home_visits_held: int = 0

    @property
    def unrecorded(self) -> int:
        """Neither cancelled nor recorded as held or a no-show (yet)."""
        return self.booked - self.held - self.cancelled - self.no_show

    @property
    def attendance_rate(self) -> float | None:
        return rate(self.held, self.held + self.no_show)

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class ReminderGroup:
    reminded: bool
    confirmed: bool
    held: int
    no_show: int

    @property
    def attendance_rate(self) -> float | None:
        return rate(self.held, self.held + self.no_show)


@dataclass(frozen=True)
class VideoStats:
    sessions: int = 0  # video appointments not cancelled
    with_call: int = 0  # … where anyone joined the call
    failed: int = 0  # … that a lost connection ended (calls/endings.py), or where the citizen waited, never let in
    reported_connection: int = 0  # … where a client reported its connection type
    relayed: int = 0
    median_duration_minutes: float | None = None
    median_wait_seconds: float | None = None
    durations_counted: int = 0  # calls the median duration is taken over
    waits_counted: int = 0  # admissions the median wait is taken over

    @property
    def share_relayed(self) -> float | None:
        return rate(self.relayed, self.reported_connection)

    @property
    def share_failed(self) -> float | None:
        return rate(self.failed, self.with_call)


@dataclass(frozen=True)
class InterpreterStats:
    booked: int = 0
    held: int = 0
    no_show: int = 0
    released_in_time: int = 0  # cancelled at least the municipality's cut-off before the start


@dataclass(frozen=True)
class BetweenStats:
    """Support between appointments: calls a worker started at once, and citizens' "I'd like to talk" requests."""

    unscheduled: int = 0  # video sessions started at once ("call now"), not cancelled
    unscheduled_held: int = 0  # … where the citizen joined (attendance "attended")
    requests: int = 0  # "I'd like to talk to you" taps
    answered: int = 0  # … answered by the worker
    called: int = 0  # … by calling at once
    proposed: int = 0  # … by proposing a time
    median_answer_minutes: float | None = None  # from the tap to the answer, over the answered requests


@dataclass
class Row:
    """One team's or one worker's counts."""

    id: int
    name: str
    counts: Counts
    travel_minutes: int = 0

    @property
    def driving_minutes_saved(self) -> int:
        return self.counts.video_held * self.travel_minutes


@dataclass
class Statistics:
    period: Period
    totals: Counts
    teams: list[Row]
    workers: list[Row]
    reminders: list[ReminderGroup]
    video: VideoStats
    interpreters: InterpreterStats
    checkins: int = 0
    goals_achieved: int = 0
    between: BetweenStats = BetweenStats()

    @property
    def driving_minutes_saved(self) -> int:
        return sum(row.driving_minutes_saved for row in self.teams)


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def median(values: list[float]) -> float | None:
    return pystats.median(values) if values else None


# Conditions on one appointment row, shared by every query below.
# coalesce: with no attendance recorded, "attendance IN (…)" would be NULL, and NOT NULL is not true.
CANCELLED = or_(
    Appointment.cancelled_at.is_not(None),
    func.coalesce(Appointment.attendance, "").in_(("cancelled_late", "cancelled_in_time")),
)
HELD = and_(Appointment.cancelled_at.is_(None), Appointment.attendance == "attended")
NO_SHOW = and_(Appointment.cancelled_at.is_(None), Appointment.attendance == "no_show")
VIDEO = Appointment.kind == AppointmentKind.VIDEO
UNSCHEDULED = Appointment.unscheduled.is_(True)
REMINDED = exists().where(
    OutboxMessage.appointment_id == Appointment.id,
    OutboxMessage.purpose == "reminder",
    OutboxMessage.recipient_kind == "citizen",
    OutboxMessage.status == OutboxStatus.SENT,
)


def _n(condition):
    """How many rows meet ``condition``: ``count(*) FILTER (WHERE …)`` (SQLite 3.30+, PostgreSQL), which skips the
    aggregate's step on the rows that do not, cheaper than summing a CASE over every row."""
    return func.count().filter(condition)


def _where(scope: Scope, period: Period) -> list:
    conditions = [
        Appointment.municipality_id == scope.municipality_id,
        Appointment.starts_at >= period.starts,
        Appointment.starts_at < period.ends,
        Citizen.team_id.in_(scope.team_ids),
    ]
    if scope.worker_id is not None:
        conditions.append(Appointment.worker_id == scope.worker_id)
    return conditions


async def compute(db: AsyncSession, scope: Scope, period: Period) -> Statistics:
    """Every figure of the statistics page for ``scope`` in ``period``.

    Three passes over a period's rows: the appointments (one grouped query for every count, the reminder groups,
    the interpreters and the unscheduled calls), the calls (one grouped query over the call events, with the waiting
    times) and the check-ins and goals; the rest are look-ups of names and settings.
    """
    where = _where(scope, period)
    groups = await _appointment_groups(db, where, await _confirm_cutoff(db, scope))
    teams, workers, totals = await _rows(db, scope, groups)
    return Statistics(
        period=period,
        totals=totals,
        teams=teams,
        workers=workers,
        reminders=_reminder_groups(groups),
        video=await _video(db, where, sessions=sum(g.video_sessions for g in groups)),
        interpreters=_interpreters(groups),
        checkins=await _checkins(db, scope, period),
        goals_achieved=await _goals_achieved(db, scope, period),
        between=await _between(db, scope, period, groups),
    )


@dataclass(frozen=True)
class _Group:
    """The appointments of one worker and team with one answer from the citizen (none, confirmed, can't come)."""

    worker_id: int
    team_id: int
    response: str
    counts: Counts
    video_sessions: int  # video appointments not cancelled
    interpreter_booked: int
    interpreter_held: int
    interpreter_no_show: int
    interpreter_released_in_time: int  # cancelled at least the municipality's cut-off before the start
    held_reminded: int  # held, and a reminder was sent
    no_show_reminded: int
    unscheduled: int  # started at once ("call now"), not cancelled
    unscheduled_held: int


async def _appointment_groups(db: AsyncSession, where: list, cutoff: dt.timedelta) -> list[_Group]:
    """Every count over the appointments in one pass, grouped by worker, team and the citizen's answer.

    Whether a reminder was sent is looked up (an index search) only for the appointments held or missed."""
    interpreter = Appointment.interpreter_name.is_not(None)
    released_in_time = and_(
        interpreter,
        Appointment.cancelled_at.is_not(None),
        Appointment.cancelled_at <= _earlier(db, Appointment.starts_at, cutoff),
    )
    stmt = (
        select(
            Appointment.worker_id,
            Citizen.team_id,
            Appointment.response,
            func.count(),
            _n(HELD),
            _n(CANCELLED),
            _n(NO_SHOW),
            _n(VIDEO),
            _n(and_(HELD, VIDEO)),
            _n(~VIDEO),
            _n(and_(HELD, ~VIDEO)),
            _n(and_(VIDEO, ~CANCELLED)),
            _n(interpreter),
            _n(and_(interpreter, HELD)),
            _n(and_(interpreter, NO_SHOW)),
            _n(released_in_time),
            _n(and_(HELD, REMINDED)),
            _n(and_(NO_SHOW, REMINDED)),
            _n(and_(UNSCHEDULED, Appointment.cancelled_at.is_(None))),
            _n(and_(UNSCHEDULED, HELD)),
        )
        .join(Citizen, Citizen.id == Appointment.citizen_id)
        .where(*where)
        .group_by(Appointment.worker_id, Citizen.team_id, Appointment.response)
    )
    groups = []
    for worker_id, team_id, response, *n in (await db.execute(stmt)).all():
        n = [int(x) for x in n]
        groups.append(_Group(worker_id, team_id, response, Counts(*n[:8]), *n[8:]))
    return groups


async def _rows(db: AsyncSession, scope: Scope, groups: list[_Group]) -> tuple[list[Row], list[Row], Counts]:
    """The totals, and one row per team in scope and per worker with appointments."""
    by_team: dict[int, Counts] = {}
    by_worker: dict[int, Counts] = {}
    totals = Counts()
    for g in groups:
        totals.add(g.counts)
        by_team.setdefault(g.team_id, Counts()).add(g.counts)
        by_worker.setdefault(g.worker_id, Counts()).add(g.counts)
    team_rows = (
        await db.execute(
            select(Team.id, Team.name, Team.travel_minutes).where(Team.id.in_(scope.team_ids)).order_by(Team.name)
        )
    ).all()
    teams = [Row(id_, name, by_team.get(id_, Counts()), minutes) for id_, name, minutes in team_rows]
    names = (
        dict((await db.execute(select(Staff.id, Staff.name).where(Staff.id.in_(list(by_worker))))).all())
        if by_worker
        else {}
    )
    workers = sorted(
        (Row(id_, names.get(id_, ""), counts) for id_, counts in by_worker.items()), key=lambda row: row.name
    )
    return teams, workers, totals


def _reminder_groups(groups: list[_Group]) -> list[ReminderGroup]:
    """Held and no-shows by whether a reminder was sent and whether the citizen confirmed."""
    found: dict[tuple[bool, bool], list[int]] = {}
    for g in groups:
        confirmed = g.response == "confirmed"
        for reminded, held, no_show in (
            (True, g.held_reminded, g.no_show_reminded),
            (False, g.counts.held - g.held_reminded, g.counts.no_show - g.no_show_reminded),
        ):
            sums = found.setdefault((reminded, confirmed), [0, 0])
            sums[0] += held
            sums[1] += no_show
    return [
        ReminderGroup(reminded, confirmed, *found.get((reminded, confirmed), (0, 0)))
        for reminded in (True, False)
        for confirmed in (True, False)
    ]


def _seconds(db: AsyncSession, later, earlier):
    """``later - earlier`` in seconds, in SQL (SQLite keeps times as text; PostgreSQL as timestamptz)."""
    if db.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


async def _video(db: AsyncSession, where: list, sessions: int) -> VideoStats:
    """The calls of the video sessions not cancelled: one grouped pass over their events gives one row per call, with
    its citizen's waiting time when she was let in once (the few let in more than once are read apart)."""
    citizen = CallEvent.participant_kind == PrincipalKind.CITIZEN
    citizen_in = and_(CallEvent.event.in_((CallEventName.JOINED, CallEventName.ADMITTED)), citizen)  # cheaper first
    admitted = and_(CallEvent.event == CallEventName.ADMITTED, citizen)
    waited_seconds = CallEvent.details["waited_seconds"].as_float()

    # Grouped by the appointment's id (not the event's column): SQLite then reads the appointments in id order and
    # never sorts the call events, the fastest plan for a year (a month costs a few ms either way).
    per_call = (
        select(
            Appointment.id,
            _seconds(
                db,
                func.max(CallEvent.at).filter(CallEvent.event.in_((CallEventName.LEFT, CallEventName.ENDED))),
                func.min(CallEvent.at).filter(citizen_in),
            ),
            # How many events of the call say …: the citizen was let in (or joined); she waited; a connection was
            # lost; a client reported its connection type; … a relayed one; the citizen was let in from the waiting
            # room, and the wait of one such admission (all of them when there is one).
            _n(citizen_in),
            _n(and_(CallEvent.event == CallEventName.WAITING, citizen)),
            _n(and_(CallEvent.event == CallEventName.LEFT, CallEvent.details["reason"].as_string() == "network_lost")),
            _n(CallEvent.event == CallEventName.CONNECTION_TYPE),
            _n(
                and_(
                    CallEvent.event == CallEventName.CONNECTION_TYPE,
                    CallEvent.details["type"].as_string() == "relayed",
                )
            ),
            _n(admitted),
            func.max(waited_seconds).filter(admitted),
        )
        .select_from(Appointment)
        .join(Citizen, Citizen.id == Appointment.citizen_id)
        .join(CallEvent, CallEvent.appointment_id == Appointment.id)
        .where(*where, VIDEO, ~CANCELLED)
        .group_by(Appointment.id)
    )
    # One pass over the rows, each unpacked once: a year holds thousands of calls.
    durations: list[float] = []  # from the citizen being let in (or joining) to the last leave or end
    waits: list[float] = []
    with_lost: list[int] = []
    never_let_in: set[int] = set()
    let_in_again: list[int] = []
    calls = reported = relayed = 0
    for id_, seconds, let_in, waited, lost, reported_it, relayed_it, admissions, wait in (
        await db.execute(per_call)
    ).all():
        calls += 1
        reported += reported_it > 0
        relayed += relayed_it > 0
        if seconds is not None and seconds > 0:
            durations.append(float(seconds))
        if admissions == 1:
            if wait is not None:
                waits.append(float(wait))
        elif admissions > 1:
            let_in_again.append(id_)
        if lost:
            with_lost.append(id_)
        if waited and not let_in:
            never_let_in.add(id_)
    # A lost connection failed the call only if it ended it (calls/endings.py): read the few calls with one whole.
    failed = never_let_in | await _lost_for_good(db, with_lost)
    for first in range(0, len(let_in_again), 500):  # let in more than once: every admission's wait counts
        waits.extend(
            float(w)
            for w in (
                await db.execute(
                    select(waited_seconds).where(
                        CallEvent.appointment_id.in_(let_in_again[first : first + 500]), admitted
                    )
                )
            ).scalars()
            if w is not None
        )
    duration = median(durations)
    return VideoStats(
        sessions=sessions,
        with_call=calls,
        failed=len(failed),
        reported_connection=reported,
        relayed=relayed,
        median_duration_minutes=None if duration is None else duration / 60,
        median_wait_seconds=median(waits),
        durations_counted=len(durations),
        waits_counted=len(waits),
    )


# The events the rule of calls/endings.py acts on: the others (waiting, connection type) change nothing in it.
_ENDING_EVENTS = (*endings.ENTERING, CallEventName.LEFT, CallEventName.ENDED)


async def _lost_for_good(db: AsyncSession, appointment_ids: list[int]) -> set[int]:
    """Of these calls (each with a connection lost past its grace period), the ones that ended by it: nobody came
    back and they were never together again (vbostotte/calls/endings.py). A drop that healed is not a failure."""
    failed: set[int] = set()
    for first in range(0, len(appointment_ids), 500):
        chunk = appointment_ids[first : first + 500]
        rows = await db.execute(  # the columns the rule reads (endings.Happening), not whole ORM objects
            select(
                CallEvent.appointment_id,
                CallEvent.event,
                CallEvent.participant,
                CallEvent.participant_kind,
                CallEvent.role,
                CallEvent.details,
            )
            .where(CallEvent.appointment_id.in_(chunk), CallEvent.event.in_(_ENDING_EVENTS))
            .order_by(CallEvent.appointment_id, CallEvent.at, CallEvent.id)
        )
        for appointment_id, events in itertools.groupby(rows, key=lambda e: e.appointment_id):
            if endings.lost_for_good(events):
                failed.add(appointment_id)
    return failed


async def _confirm_cutoff(db: AsyncSession, scope: Scope) -> dt.timedelta:
    """How long before the start an interpreter must be released (the municipality's confirmation cut-off)."""
    minutes = await db.scalar(
        select(models.MunicipalitySettings.confirm_cutoff_minutes).where(
            models.MunicipalitySettings.municipality_id == scope.municipality_id
        )
    )
    return dt.timedelta(minutes=180 if minutes is None else minutes)


def _earlier(db: AsyncSession, column, by: dt.timedelta):
    """``column - by`` in SQL, exact to the microsecond on both backends. SQLite keeps a time as the text
    ``YYYY-MM-DD HH:MM:SS.ffffff`` (SQLAlchemy's storage format, which compares in time order): the whole seconds
    are moved back by SQLite's date functions and the fraction kept as it was (their arithmetic keeps only
    milliseconds)."""
    if db.get_bind().dialect.name != "sqlite":
        return column - literal(by, Interval())
    seconds = int(by.total_seconds())
    if seconds < 0 or seconds != by.total_seconds():  # "--N seconds" would be NULL, and a fraction lost
        raise ValueError("a whole, non-negative number of seconds")
    moved = func.strftime("%Y-%m-%d %H:%M:%S", func.substr(column, 1, 19), f"-{seconds} seconds")
    return moved.op("||")(func.substr(column, 20))


def _interpreters(groups: list[_Group]) -> InterpreterStats:
    return InterpreterStats(
        sum(g.interpreter_booked for g in groups),
        sum(g.interpreter_held for g in groups),
        sum(g.interpreter_no_show for g in groups),
        sum(g.interpreter_released_in_time for g in groups),
    )


def _citizens_in(scope: Scope):
    """The citizens a scope covers: the teams' citizens, or the worker's caseload within them."""
    stmt = select(Citizen.id).where(
        Citizen.municipality_id == scope.municipality_id, Citizen.team_id.in_(scope.team_ids)
    )
    if scope.worker_id is not None:
        stmt = stmt.where(
            exists().where(models.Caseload.citizen_id == Citizen.id, models.Caseload.staff_id == scope.worker_id)
        )
    return stmt


async def _checkins(db: AsyncSession, scope: Scope, period: Period) -> int:
    """Wellbeing check-ins the scope's citizens sent in the period (a count; never their content)."""
    return (
        await db.execute(
            select(func.count())
            .select_from(models.CheckIn)
            .where(
                models.CheckIn.citizen_id.in_(_citizens_in(scope)),
                models.CheckIn.at >= period.starts,
                models.CheckIn.at < period.ends,
            )
        )
    ).scalar_one()


async def _goals_achieved(db: AsyncSession, scope: Scope, period: Period) -> int:
    """Goals of the scope's citizens marked achieved in the period."""
    return (
        await db.execute(
            select(func.count(func.distinct(models.GoalEvent.goal_id)))
            .select_from(models.GoalEvent)
            .join(models.Goal, models.Goal.id == models.GoalEvent.goal_id)
            .where(
                models.Goal.citizen_id.in_(_citizens_in(scope)),
                models.GoalEvent.event == "status",
                models.GoalEvent.status == models.GoalStatus.ACHIEVED.value,
                models.GoalEvent.at >= period.starts,
                models.GoalEvent.at < period.ends,
            )
        )
    ).scalar_one()


async def _between(db: AsyncSession, scope: Scope, period: Period, groups: list[_Group]) -> BetweenStats:
    """Unscheduled calls (counted apart: they are also among the video sessions above) and call requests, by the
    time of the call or of the tap; how fast a request was answered is the median over those answered."""
    conditions = [
        models.CallRequest.citizen_id.in_(_citizens_in(scope)),
        models.CallRequest.created_at >= period.starts,
        models.CallRequest.created_at < period.ends,
    ]
    if scope.worker_id is not None:
        conditions.append(models.CallRequest.worker_id == scope.worker_id)
    rows = (
        await db.execute(
            select(models.CallRequest.created_at, models.CallRequest.answered_at, models.CallRequest.answer).where(
                *conditions
            )
        )
    ).all()
    waits = [(answered - asked).total_seconds() / 60 for asked, answered, _ in rows if answered is not None]
    answers = [answer for _, answered, answer in rows if answered is not None]
    return BetweenStats(
        unscheduled=sum(g.unscheduled for g in groups),
        unscheduled_held=sum(g.unscheduled_held for g in groups),
        requests=len(rows),
        answered=len(waits),
        called=answers.count(models.CallRequestAnswer.CALLED.value),
        proposed=answers.count(models.CallRequestAnswer.PROPOSED.value),
        median_answer_minutes=median(waits),
    )
