"""When a worker can be booked: weekly working hours in Copenhagen time, minus Danish public
holidays, absences and existing appointments. Times are UTC everywhere but at the edges."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import holidays
from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.access import require_role
from vbostotte.actors import Actor
from vbostotte.errors import InvalidInput, NotFound
from vbostotte.i18n import N_, TZ
from vbostotte.models import Appointment, AvailabilityException, StaffRole, WorkingHours

UTC = dt.UTC
SLOT_STEP = dt.timedelta(minutes=15)
Interval = tuple[dt.datetime, dt.datetime]


class NonexistentLocalTime(InvalidInput):
    """A wall-clock time skipped by the spring daylight-saving change (02:00–03:00 on the last Sunday of March)."""

    def __init__(self, field: str = "time") -> None:
        super().__init__({field: N_("This time does not exist: the clocks move forward one hour that night.")})


def to_utc(day: dt.date, minute_of_day: int, *, field: str = "time") -> dt.datetime:
    """A Copenhagen wall-clock time as a UTC instant; refuses a time that does not exist.

    An ambiguous time (the autumn change repeats 02:00–03:00) is taken as the first of the two,
    summer time, as a person reading a clock would expect.
    """
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute_of_day)
    local = naive.replace(tzinfo=TZ, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(TZ).replace(tzinfo=None) != naive:
        raise NonexistentLocalTime(field)
    return instant


@lru_cache(maxsize=32)
def _danish_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("DK", years=year))


def is_public_holiday(day: dt.date) -> bool:
    return day in _danish_holidays(day.year)


def working_windows(hours: Iterable[tuple[int, int, int]], first_day: dt.date, days: int) -> list[Interval]:
    """UTC intervals of bookable time from weekly ``(weekday, start_minute, end_minute)`` rows, skipping holidays.

    Each day's wall-clock hours are converted on that day, so a window keeps its local time across
    daylight-saving changes. Windows that touch are joined, so hours to midnight (24:00) followed by hours from
    00:00 the next day make one window: an appointment across local midnight (23:30–00:30) fits in it.
    """
    by_weekday: dict[int, list[tuple[int, int]]] = {}
    for weekday, start, end in hours:
        by_weekday.setdefault(weekday, []).append((start, end))
    windows = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        if is_public_holiday(day):
            continue
        for start, end in sorted(by_weekday.get(day.weekday(), ())):
            try:
                windows.append((to_utc(day, start), to_utc(day, end)))
            except NonexistentLocalTime:
                continue  # a window starting in the skipped spring hour: rare, and not bookable
    return merge(windows)


def subtract(windows: Sequence[Interval], blocked: Sequence[Interval]) -> list[Interval]:
    """``windows`` minus every ``blocked`` interval (both lists may be unsorted)."""
    result = []
    blocked = sorted(blocked)
    for start, end in sorted(windows):
        cursor = start
        for b_start, b_end in blocked:
            if b_end <= cursor or b_start >= end:
                continue
            if b_start > cursor:
                result.append((cursor, b_start))
            cursor = max(cursor, b_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result


def merge(intervals: Sequence[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same time."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _ceil_to_step(moment: dt.datetime, origin: dt.datetime, step: dt.timedelta) -> dt.datetime:
    return origin + step * -(-(moment - origin) // step)


def free_slots(
    windows: Sequence[Interval],
    busy: Sequence[Interval],
    duration: dt.timedelta,
    not_before: dt.datetime,
    step: dt.timedelta = SLOT_STEP,
) -> list[dt.datetime]:
    """Start times, on ``step`` boundaries from each window's start, where ``duration`` fits inside a window
    without touching anything busy and not before ``not_before``."""
    busy = merge(busy)
    busy_starts = [s for s, _ in busy]
    slots = []
    for w_start, w_end in sorted(windows):
        start = _ceil_to_step(max(w_start, not_before), w_start, step)
        while start + duration <= w_end:
            # Busy intervals are disjoint and sorted: only the last one starting before our end can overlap.
            i = bisect.bisect_left(busy_starts, start + duration) - 1
            if i >= 0 and busy[i][1] > start:
                start = _ceil_to_step(busy[i][1], w_start, step)
            else:
                slots.append(start)
                start += step
    return slots


@dataclass(frozen=True)
class Availability:
    windows: list[Interval]  # working hours minus holidays and absences
    busy: list[Interval]  # live appointments


async def availability(db: AsyncSession, worker_id: int, first_day: dt.date, days: int) -> Availability:
    """Load what decides a worker's free time over ``days`` from ``first_day`` (Copenhagen dates)."""
    span_start = to_utc(first_day, 0)
    span_end = to_utc(first_day + dt.timedelta(days=days), 0)
    hours = (
        await db.execute(
            select(WorkingHours.weekday, WorkingHours.start_minute, WorkingHours.end_minute).where(
                WorkingHours.staff_id == worker_id, WorkingHours.kind == "work"
            )
        )
    ).all()
    absences = (
        await db.execute(
            select(AvailabilityException.starts_at, AvailabilityException.ends_at).where(
                AvailabilityException.staff_id == worker_id,
                AvailabilityException.starts_at < span_end,
                AvailabilityException.ends_at > span_start,
            )
        )
    ).all()
    busy = (
        await db.execute(
            select(Appointment.starts_at, Appointment.ends_at).where(
                Appointment.worker_id == worker_id,
                Appointment.cancelled_at.is_(None),
                Appointment.starts_at < span_end,
                Appointment.ends_at > span_start,
            )
        )
    ).all()
    windows = subtract(working_windows(hours, first_day, days), [(start, end) for start, end in absences])
    return Availability(windows=windows, busy=[(start, end) for start, end in busy])


async def hours_of(db: AsyncSession, worker_id: int) -> list[tuple[str, int, int, int]]:
    """The worker's weekly hours as (kind, weekday, start_minute, end_minute)."""
    rows = await db.execute(
        select(WorkingHours.kind, WorkingHours.weekday, WorkingHours.start_minute, WorkingHours.end_minute)
        .where(WorkingHours.staff_id == worker_id)
        .order_by(WorkingHours.kind, WorkingHours.weekday, WorkingHours.start_minute)
    )
    return [(kind, weekday, start, end) for kind, weekday, start, end in rows]


async def set_working_hours(
    db: AsyncSession, actor: Actor, rows: list[tuple[int, int, int]], kind: str = "work"
) -> None:
    """Replace the worker's own weekly hours of ``kind`` ("work" or "messages")."""
    require_role(actor, StaffRole.WORKER)
    existing = (
        await db.execute(select(WorkingHours).where(WorkingHours.staff_id == actor.id, WorkingHours.kind == kind))
    ).scalars()
    for row in existing:
        await db.delete(row)
    for weekday, start, end in rows:
        db.add(WorkingHours(staff_id=actor.id, kind=kind, weekday=weekday, start_minute=start, end_minute=end))
    await db.flush()
    await audit.record(db, actor, audit.AuditEvent("availability.update", audit.Purpose.SUPPORT))


async def add_absence(
    db: AsyncSession, actor: Actor, reason: str, starts_at: dt.datetime, ends_at: dt.datetime
) -> AvailabilityException:
    require_role(actor, StaffRole.WORKER)
    absence = AvailabilityException(staff_id=actor.id, reason=reason, starts_at=starts_at, ends_at=ends_at)
    db.add(absence)
    await db.flush()
    await audit.record(db, actor, audit.AuditEvent("availability.absence", audit.Purpose.SUPPORT))
    return absence


@cache
def _message_hours_statement() -> Select[int, int, int, int]:
    """Built once: the citizen's start page shows whether their workers answer now on every view."""
    return (
        select(WorkingHours.staff_id, WorkingHours.weekday, WorkingHours.start_minute, WorkingHours.end_minute)
        .where(WorkingHours.staff_id.in_(bindparam("worker_ids", expanding=True)), WorkingHours.kind == "messages")
        .order_by(WorkingHours.weekday, WorkingHours.start_minute)
    )


async def message_hours(db: AsyncSession, worker_ids: list[int]) -> dict[int, list[tuple[int, int, int]]]:
    """Each worker's weekly message-answering hours as (weekday, start_minute, end_minute)."""
    rows = await db.execute(_message_hours_statement(), {"worker_ids": list(worker_ids)})
    hours: dict[int, list[tuple[int, int, int]]] = {worker_id: [] for worker_id in worker_ids}
    for staff_id, weekday, start, end in rows:
        hours[staff_id].append((weekday, start, end))
    return hours


def answering_now(hours: list[tuple[int, int, int]], now: dt.datetime) -> bool:
    """Whether ``now`` (Copenhagen wall-clock time) falls in one of the weekly hours."""
    local = now.astimezone(TZ)
    minute = local.hour * 60 + local.minute
    return any(weekday == local.weekday() and start <= minute < end for weekday, start, end in hours)


ABSENCE_REASONS = ("holiday", "sick", "other")


async def absences_of(db: AsyncSession, actor: Actor, now: dt.datetime) -> list[AvailabilityException]:
    """The worker's own absences that have not ended."""
    require_role(actor, StaffRole.WORKER)
    stmt = (
        select(AvailabilityException)
        .where(AvailabilityException.staff_id == actor.id, AvailabilityException.ends_at > now)
        .order_by(AvailabilityException.starts_at)
    )
    return list((await db.execute(stmt)).scalars())


async def remove_absence(db: AsyncSession, actor: Actor, absence_id: int) -> None:
    """Remove one of the worker's own absences (another's is not found)."""
    require_role(actor, StaffRole.WORKER)
    absence = await db.get(AvailabilityException, absence_id)
    if absence is None or absence.staff_id != actor.id:
        raise NotFound()
    await db.delete(absence)
    await audit.record(db, actor, audit.AuditEvent("availability.absence_removed", audit.Purpose.SUPPORT))
