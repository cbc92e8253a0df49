"""Statistics for supervisors: appointments held, attendance (and what reminders and confirmations do to it),
video sessions, interpreters and driving time saved — per team, per worker and per period.

Everything is counted by SQL aggregates; the two medians are taken over one narrow projected column.
Definitions (see docs/review-and-statistics.md):

* an appointment belongs to the period by its start (Copenhagen days), and to the team of its citizen;
* *cancelled*: cancelled in the system, or attendance recorded as a late or timely cancellation;
* *held*: not cancelled and attendance "attended"; *no-show*: not cancelled and attendance "did not come";
* *attendance rate*: held / (held + no-shows);
* *reminded*: a reminder to the citizen was sent (an outbox row with status "sent").
"""

from __future__ import annotations

import datetime as dt
import statistics as pystats
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import models
from vbostotte.i18n import TZ
from vbostotte.models import Appointment, AppointmentKind, CallEvent, Citizen, OutboxMessage, Staff, Team

MAX_DAYS = 400


@dataclass(frozen=True)
class Period:
    """Whole Copenhagen days from ``first`` to ``last``, both included."""

    first: dt.date
    last: dt.date

    @property
    def starts(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), TZ).astimezone(dt.timezone.utc)

    @property
    def ends(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), TZ).astimezone(dt.timezone.utc)

    @classmethod
    def week_of(cls, day: dt.date) -> "Period":
        monday = day - dt.timedelta(days=day.weekday())
        return cls(monday, monday + dt.timedelta(days=6))

    @classmethod
    def month_of(cls, day: dt.date) -> "Period":
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

    def add(self, other: "Counts") -> None:
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
    failed: int = 0  # … where the connection was lost for good, or the citizen waited and was never let in
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

    @property
    def driving_minutes_saved(self) -> int:
        return sum(row.driving_minutes_saved for row in self.teams)


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def median(values: list[float]) -> float | None:
    return pystats.median(values) if values else None


# Conditions on one appointment row, shared by every query below.
# coalesce: with no attendance recorded, "attendance IN (…)" would be NULL, and NOT NULL is not true.
CANCELLED = or_(Appointment.cancelled_at.is_not(None),
                func.coalesce(Appointment.attendance, "").in_(("cancelled_late", "cancelled_in_time")))
HELD = and_(Appointment.cancelled_at.is_(None), Appointment.attendance == "attended")
NO_SHOW = and_(Appointment.cancelled_at.is_(None), Appointment.attendance == "no_show")
VIDEO = Appointment.kind == AppointmentKind.VIDEO
REMINDED = exists().where(OutboxMessage.appointment_id == Appointment.id, OutboxMessage.purpose == "reminder",
                          OutboxMessage.recipient_kind == "citizen", OutboxMessage.status == "sent")


def _n(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _where(scope: Scope, period: Period) -> list:
    conditions = [Appointment.municipality_id == scope.municipality_id, Appointment.starts_at >= period.starts,
                  Appointment.starts_at < period.ends, Citizen.team_id.in_(scope.team_ids)]
    if scope.worker_id is not None:
        conditions.append(Appointment.worker_id == scope.worker_id)
    return conditions


async def compute(db: AsyncSession, scope: Scope, period: Period) -> Statistics:
    """Every figure of the statistics page for ``scope`` in ``period``."""
    where = _where(scope, period)
    teams, workers, totals = await _counts(db, scope, where)
    return Statistics(period=period, totals=totals, teams=teams, workers=workers,
                      reminders=await _reminder_groups(db, where), video=await _video(db, where),
                      interpreters=await _interpreters(db, scope, where),
                      checkins=await _checkins(db, scope, period),
                      goals_achieved=await _goals_achieved(db, scope, period))


async def _counts(db: AsyncSession, scope: Scope, where: list) -> tuple[list[Row], list[Row], Counts]:
    stmt = (select(Appointment.worker_id, Citizen.team_id, func.count(), _n(HELD), _n(CANCELLED), _n(NO_SHOW),
                   _n(VIDEO), _n(and_(HELD, VIDEO)), _n(~VIDEO), _n(and_(HELD, ~VIDEO)))
            .join(Citizen, Citizen.id == Appointment.citizen_id).where(*where)
            .group_by(Appointment.worker_id, Citizen.team_id))
    by_team: dict[int, Counts] = {}
    by_worker: dict[int, Counts] = {}
    totals = Counts()
    for worker_id, team_id, *numbers in (await db.execute(stmt)).all():
        counts = Counts(*(int(n) for n in numbers))
        totals.add(counts)
        by_team.setdefault(team_id, Counts()).add(counts)
        by_worker.setdefault(worker_id, Counts()).add(counts)
    team_rows = (await db.execute(select(Team.id, Team.name, Team.travel_minutes)
                                  .where(Team.id.in_(scope.team_ids)).order_by(Team.name))).all()
    teams = [Row(id_, name, by_team.get(id_, Counts()), minutes) for id_, name, minutes in team_rows]
    names = dict((await db.execute(select(Staff.id, Staff.name).where(Staff.id.in_(list(by_worker))))).all()) \
        if by_worker else {}
    workers = sorted((Row(id_, names.get(id_, ""), counts) for id_, counts in by_worker.items()),
                     key=lambda row: row.name)
    return teams, workers, totals


async def _reminder_groups(db: AsyncSession, where: list) -> list[ReminderGroup]:
    inner = (select(case((REMINDED, 1), else_=0).label("reminded"),
                    case((Appointment.response == "confirmed", 1), else_=0).label("confirmed"),
                    case((HELD, 1), else_=0).label("held"))
             .join(Citizen, Citizen.id == Appointment.citizen_id).where(*where, or_(HELD, NO_SHOW)).subquery())
    stmt = (select(inner.c.reminded, inner.c.confirmed, func.sum(inner.c.held), func.count())
            .group_by(inner.c.reminded, inner.c.confirmed))
    found = {(bool(r), bool(c)): (int(held), int(total)) for r, c, held, total in (await db.execute(stmt)).all()}
    groups = []
    for reminded in (True, False):
        for confirmed in (True, False):
            held, total = found.get((reminded, confirmed), (0, 0))
            groups.append(ReminderGroup(reminded, confirmed, held, total - held))
    return groups


def _seconds(db: AsyncSession, later, earlier):
    """``later - earlier`` in seconds, in SQL (SQLite keeps times as text; PostgreSQL as timestamptz)."""
    if db.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


async def _video(db: AsyncSession, where: list) -> VideoStats:
    citizen = CallEvent.participant.like("citizen-%")
    citizen_in = and_(citizen, CallEvent.event.in_(("joined", "admitted")))
    per_call = (
        select(CallEvent.appointment_id.label("id"),
               func.min(case((citizen_in, CallEvent.at))).label("citizen_in"),
               func.max(case((CallEvent.event.in_(("left", "ended")), CallEvent.at))).label("over"),
               func.max(case((citizen_in, 1), else_=0)).label("admitted"),
               func.max(case((and_(citizen, CallEvent.event == "waiting"), 1), else_=0)).label("waited"),
               func.max(case((and_(CallEvent.event == "left",
                                   CallEvent.details["reason"].as_string() == "network_lost"), 1), else_=0)).label("lost"),
               func.max(case((CallEvent.event == "connection_type", 1), else_=0)).label("reported"),
               func.max(case((and_(CallEvent.event == "connection_type",
                                   CallEvent.details["type"].as_string() == "relayed"), 1), else_=0)).label("relayed"))
        .join(Appointment, Appointment.id == CallEvent.appointment_id)
        .join(Citizen, Citizen.id == Appointment.citizen_id)
        .where(*where, VIDEO, ~CANCELLED).group_by(CallEvent.appointment_id).subquery())
    failed = or_(per_call.c.lost == 1, and_(per_call.c.waited == 1, per_call.c.admitted == 0))
    totals = (await db.execute(select(func.count(), _n(failed), func.coalesce(func.sum(per_call.c.reported), 0),
                                      func.coalesce(func.sum(per_call.c.relayed), 0)))).one()
    sessions = (await db.execute(select(func.count()).select_from(Appointment)
                                 .join(Citizen, Citizen.id == Appointment.citizen_id)
                                 .where(*where, VIDEO, ~CANCELLED))).scalar_one()
    span = _seconds(db, per_call.c.over, per_call.c.citizen_in)
    durations = (await db.execute(select(span).where(per_call.c.citizen_in.is_not(None),
                                                     per_call.c.over > per_call.c.citizen_in))).scalars().all()
    waits = (await db.execute(
        select(CallEvent.details["waited_seconds"].as_float())
        .join(Appointment, Appointment.id == CallEvent.appointment_id)
        .join(Citizen, Citizen.id == Appointment.citizen_id)
        .where(*where, VIDEO, ~CANCELLED, CallEvent.event == "admitted", citizen))).scalars().all()
    durations = [float(s) for s in durations]
    waits = [float(w) for w in waits if w is not None]
    duration = median(durations)
    return VideoStats(sessions=sessions, with_call=totals[0], failed=int(totals[1]),
                      reported_connection=int(totals[2]), relayed=int(totals[3]),
                      median_duration_minutes=None if duration is None else duration / 60,
                      median_wait_seconds=median(waits), durations_counted=len(durations),
                      waits_counted=len(waits))


async def _interpreters(db: AsyncSession, scope: Scope, where: list) -> InterpreterStats:
    with_interpreter = Appointment.interpreter_name.is_not(None)
    booked, held, no_show = (await db.execute(
        select(func.count(), _n(HELD), _n(NO_SHOW)).join(Citizen, Citizen.id == Appointment.citizen_id)
        .where(*where, with_interpreter))).one()
    cutoff = await db.scalar(select(models.MunicipalitySettings.confirm_cutoff_minutes)
                             .where(models.MunicipalitySettings.municipality_id == scope.municipality_id))
    cutoff = dt.timedelta(minutes=180 if cutoff is None else cutoff)
    cancellations = (await db.execute(
        select(Appointment.cancelled_at, Appointment.starts_at).join(Citizen, Citizen.id == Appointment.citizen_id)
        .where(*where, with_interpreter, Appointment.cancelled_at.is_not(None)))).all()
    in_time = sum(1 for cancelled_at, starts_at in cancellations if cancelled_at <= starts_at - cutoff)
    return InterpreterStats(int(booked), int(held), int(no_show), in_time)


def _citizens_in(scope: Scope):
    """The citizens a scope covers: the teams' citizens, or the worker's caseload within them."""
    stmt = select(Citizen.id).where(Citizen.municipality_id == scope.municipality_id,
                                    Citizen.team_id.in_(scope.team_ids))
    if scope.worker_id is not None:
        stmt = stmt.where(exists().where(models.Caseload.citizen_id == Citizen.id,
                                         models.Caseload.staff_id == scope.worker_id))
    return stmt


async def _checkins(db: AsyncSession, scope: Scope, period: Period) -> int:
    """Wellbeing check-ins the scope's citizens sent in the period (a count; never their content)."""
    return (await db.execute(select(func.count()).select_from(models.CheckIn).where(
        models.CheckIn.citizen_id.in_(_citizens_in(scope)), models.CheckIn.at >= period.starts,
        models.CheckIn.at < period.ends))).scalar_one()


async def _goals_achieved(db: AsyncSession, scope: Scope, period: Period) -> int:
    """Goals of the scope's citizens marked achieved in the period."""
    return (await db.execute(select(func.count(func.distinct(models.GoalEvent.goal_id)))
                             .select_from(models.GoalEvent).join(models.Goal, models.Goal.id == models.GoalEvent.goal_id).where(
        models.Goal.citizen_id.in_(_citizens_in(scope)), models.GoalEvent.event == "status",
        models.GoalEvent.status == models.GoalStatus.ACHIEVED.value, models.GoalEvent.at >= period.starts,
        models.GoalEvent.at < period.ends))).scalar_one()
