"""The care record's sections on the pages that gather several contexts: the citizen's own pages (today's check-in,
the day plan, goals, the notes shared with them: each a short page behind the start page's menu, ``web/citizen.py``)
and a staff member's page of a citizen (goals, the notes the viewer may read, and for the citizen's worker the
wellbeing trend and day plan, only with the citizen's consent). Each returns what its section of the page shows,
ready for the template."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte.actors import Actor
from vbostotte.care import checkins, day_plan, goals, notes, wellbeing_chart
from vbostotte.models import Citizen, StaffRole
from vbostotte.reminders import outbox


async def citizen_checkin(db: AsyncSession, who: Actor, now: dt.datetime) -> dict[str, Any]:
    """The citizen's page "How are you today?": today's last answer, the faces, and who sees the answers."""
    return {
        "checkin": await checkins.latest_today(db, who, now),
        "checkin_levels": checkins.LABELS,
        "checkin_lowest": checkins.LOWEST,
        "checkin_crisis_text": (await outbox.municipality_settings(db, who.known_municipality_id)).crisis_line_text,
        "worker_sees_checkins": await checkins.worker_may_see(db, who.known_id),
    }


async def citizen_day(db: AsyncSession, who: Actor, now: dt.datetime) -> dict[str, Any]:
    """The citizen's page "My day": today's plan and its grade."""
    return {"day_plan": await day_plan.own_plan(db, who, now), "grade_labels": day_plan.GRADE_LABELS}


async def citizen_goals(db: AsyncSession, who: Actor, celebrated_goal: int | None = None) -> dict[str, Any]:
    """The citizen's page "My goals" (``celebrated_goal``: the goal just achieved)."""
    return {
        "goals": await goals.for_citizen(db, who.known_id, include_dropped=False),
        "celebrated_goal": celebrated_goal,
    }


async def citizen_notes(db: AsyncSession, who: Actor) -> dict[str, Any]:
    """The citizen's page of the notes their worker shared with them."""
    return {"shared_notes": await notes.shared_with(db, who)}


async def on_staff_citizen_page(db: AsyncSession, who: Actor, citizen: Citizen, now: dt.datetime) -> dict[str, Any]:
    """What a staff member's page of a citizen shows of the care record: the goals, the notes the viewer may read
    (no note text), and the wellbeing section — nothing of it read unless the viewer is a worker and the citizen
    consents (``checkins.trend``)."""
    section = {
        "goals": await goals.for_citizen(db, citizen.id),
        "notes": await notes.list_for_citizen(db, who, citizen.id),
    }
    return {**section, "wellbeing": await _wellbeing(db, who, citizen, now)}


async def _wellbeing(db: AsyncSession, who: Actor, citizen: Citizen, now: dt.datetime) -> dict[str, Any]:
    if not who.has_role(StaffRole.WORKER):
        return {"for_worker": False}
    trend = await checkins.trend(db, who, citizen, now)
    if trend is None:
        return {"for_worker": True, "allowed": False}
    return {
        "for_worker": True,
        "allowed": True,
        "trend": trend,
        "chart": wellbeing_chart.chart(trend),
        "plan": await day_plan.plan_for_worker(db, who, citizen, now),
        "levels": checkins.LABELS,
        "grades": day_plan.GRADE_LABELS,
    }
