"""Wellbeing check-ins ("trivsel"): the citizen says how they are today on a 1–5 face scale, with a few words
if they like. A citizen may check in several times a day; the trend shows the latest answer of each day.

A support worker follows the trend only with the citizen's consent "the worker sees my check-ins"
(``services.consent``), checked on every read; each read is audit-logged with its purpose. A check-in at the
lowest level shows the citizen the municipality's crisis-line text at once and — with that consent — marks the
citizen for the worker's attention on the worker's start page until a worker marks it followed up. It is not
an alarm service: nobody watches the answers live, and the pages say so.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.access import Rule, require_role, visibility, visible_citizen_ids_by_rule
from vbostotte.actors import Actor
from vbostotte.errors import InvalidInput, PermissionDenied
from vbostotte.i18n import N_, TZ
from vbostotte.models import CheckIn, Citizen, DayGrade, StaffRole
from vbostotte.privacy import consent

LEVELS = (1, 2, 3, 4, 5)
LOWEST = 1
LABELS = {1: N_("Very bad"), 2: N_("Bad"), 3: N_("So-so"), 4: N_("Good"), 5: N_("Very good")}
TREND_DAYS = 28
MAX_WORDS = 200


def local_day(moment: dt.datetime) -> dt.date:
    """The Copenhagen date of a moment: check-ins and day plans belong to the citizen's own day."""
    return moment.astimezone(TZ).date()


async def worker_may_see(db: AsyncSession, citizen_id: int) -> bool:
    """Whether the citizen agrees, now, that their support workers see their check-ins and day plan."""
    return await consent.has(db, citizen_id, consent.Kind.WORKER_SEES_CHECKINS)


async def check_in(db: AsyncSession, actor: Actor, level: int, words: str | None, now: dt.datetime) -> CheckIn:
    """The citizen answers "How are you today?"."""
    if not actor.is_citizen:
        raise PermissionDenied()
    if level not in LEVELS:
        raise InvalidInput({"level": N_("Choose one of the options.")})
    if words is not None and len(words) > MAX_WORDS:
        raise InvalidInput({"words": N_("This field is too long.")})
    entry = CheckIn(
        municipality_id=actor.municipality_id,
        citizen_id=actor.id,
        level=level,
        words=words or None,
        day=local_day(now),
        at=now,
    )
    db.add(entry)
    await db.flush()
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "checkin.create", audit.Purpose.SELF_SERVICE, citizen_id=actor.id, object_type="checkin", object_id=entry.id
        ),
        clock=lambda: now,
    )
    return entry


async def latest_today(db: AsyncSession, actor: Actor, now: dt.datetime) -> CheckIn | None:
    """The citizen's own latest check-in today, for their start page."""
    if not actor.is_citizen:
        raise PermissionDenied()
    stmt = (
        select(CheckIn)
        .where(
            CheckIn.citizen_id == actor.id,
            CheckIn.municipality_id == actor.municipality_id,
            CheckIn.day == local_day(now),
        )
        .order_by(CheckIn.at.desc(), CheckIn.id.desc())
        .limit(1)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class Day:
    """One day of the trend: the day's latest check-in (level and words) and the day's grade, either may be None."""

    day: dt.date
    level: int | None
    words: str | None
    grade: int | None


@dataclass(frozen=True)
class Trend:
    """A citizen's check-ins and day grades over ``first``…``last`` (Copenhagen dates), oldest first."""

    first: dt.date
    last: dt.date
    days: list[Day]
    needs_attention: bool  # a lowest-level check-in not yet followed up

    @property
    def levels(self) -> list[int]:
        return [d.level for d in self.days if d.level is not None]

    @property
    def grades(self) -> list[int]:
        return [d.grade for d in self.days if d.grade is not None]

    @property
    def average(self) -> float | None:
        return round(sum(self.levels) / len(self.levels), 1) if self.levels else None

    @property
    def grade_average(self) -> float | None:
        return round(sum(self.grades) / len(self.grades), 1) if self.grades else None

    @property
    def lowest_days(self) -> list[dt.date]:
        return [d.day for d in self.days if d.level == LOWEST]


async def history(db: AsyncSession, citizen_id: int, first: dt.date, last: dt.date) -> list[Day]:
    """The latest check-in and the grade of each day in [first, last] that has either (no access check here)."""
    rows = (
        await db.execute(
            select(CheckIn)
            .where(CheckIn.citizen_id == citizen_id, CheckIn.day >= first, CheckIn.day <= last)
            .order_by(CheckIn.at, CheckIn.id)
        )
    ).scalars()
    latest = {row.day: row for row in rows}  # ordered by time: the day's last answer wins
    grades = dict(
        (
            await db.execute(
                select(DayGrade.day, DayGrade.grade).where(
                    DayGrade.citizen_id == citizen_id, DayGrade.day >= first, DayGrade.day <= last
                )
            )
        ).all()
    )
    return [
        Day(
            day,
            latest[day].level if day in latest else None,
            latest[day].words if day in latest else None,
            grades.get(day),
        )
        for day in sorted(set(latest) | set(grades))
    ]


async def _needs_attention(db: AsyncSession, citizen_id: int) -> bool:
    stmt = (
        select(CheckIn.id)
        .where(CheckIn.citizen_id == citizen_id, CheckIn.level == LOWEST, CheckIn.followed_up_at.is_(None))
        .limit(1)
    )
    return (await db.execute(stmt)).first() is not None


async def trend(
    db: AsyncSession, actor: Actor, citizen: Citizen, now: dt.datetime, days: int = TREND_DAYS
) -> Trend | None:
    """The worker's view of a citizen's last ``days`` days (``citizen`` already authorised through
    ``access.citizen_for``); None, and nothing read, without the citizen's consent. The read is audit-logged."""
    require_role(actor, StaffRole.WORKER)
    if not await worker_may_see(db, citizen.id):
        return None
    last = local_day(now)
    first = last - dt.timedelta(days=days - 1)
    result = Trend(first, last, await history(db, citizen.id, first, last), await _needs_attention(db, citizen.id))
    await audit.record(
        db,
        actor,
        audit.AuditEvent("checkin.view", audit.Purpose.WELLBEING_FOLLOW_UP, citizen_id=citizen.id),
        clock=lambda: now,
    )
    return result


@functools.cache
def _attention_statement(rule: Rule) -> Select[int, dt.datetime]:
    """Built once per form of the rule (``access.visibility``): it is on every view of a worker's week."""
    return (
        select(CheckIn.citizen_id, CheckIn.at)
        .where(
            CheckIn.citizen_id.in_(visible_citizen_ids_by_rule(rule)),
            CheckIn.level == LOWEST,
            CheckIn.followed_up_at.is_(None),
        )
        .order_by(CheckIn.at)
    )


async def needing_attention(db: AsyncSession, actor: Actor, now: dt.datetime) -> list[tuple[Citizen, dt.datetime]]:
    """The worker's citizens with a lowest-level check-in not yet followed up (and the consent to see it), with
    the time of the latest such check-in. Each citizen shown is audit-logged."""
    require_role(actor, StaffRole.WORKER)
    rule, values = visibility(actor)
    rows = (await db.execute(_attention_statement(rule), values)).all()
    latest = dict(rows)
    flagged = []
    for citizen_id in sorted(latest, key=lambda c: latest[c], reverse=True):
        if not await worker_may_see(db, citizen_id):
            continue
        citizen = await db.get(Citizen, citizen_id)
        if citizen is None:  # the query joined it: never
            continue
        flagged.append((citizen, latest[citizen_id]))
        await audit.record(
            db,
            actor,
            audit.AuditEvent("checkin.attention", audit.Purpose.WELLBEING_FOLLOW_UP, citizen_id=citizen_id),
            clock=lambda: now,
        )
    return flagged


async def mark_followed_up(db: AsyncSession, actor: Actor, citizen: Citizen, now: dt.datetime) -> None:
    """The worker has followed up the citizen's hard day(s): the attention mark goes away."""
    require_role(actor, StaffRole.WORKER)
    if not await worker_may_see(db, citizen.id):
        raise PermissionDenied()
    await db.execute(
        update(CheckIn)
        .where(CheckIn.citizen_id == citizen.id, CheckIn.level == LOWEST, CheckIn.followed_up_at.is_(None))
        .values(followed_up_at=now, followed_up_by_id=actor.id)
    )
    await audit.record(
        db,
        actor,
        audit.AuditEvent("checkin.follow_up", audit.Purpose.WELLBEING_FOLLOW_UP, citizen_id=citizen.id),
        clock=lambda: now,
    )
