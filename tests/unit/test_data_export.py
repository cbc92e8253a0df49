"""The citizen's own data: the export of a seeded citizen holds exactly their data — every kind of it — and
nothing of the three other citizens in two municipalities, nor staff names; only shared, signed notes; and a
worker's download leaves out check-ins and the day plan without the citizen's consent."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from vbostotte.actors import Actor
from vbostotte.care import checkins, day_plan
from vbostotte.models import (
    AuditEntry,
    Citizen,
    ConsentEvent,
    Goal,
    GoalStatus,
    GoalStep,
    Note,
    NoteStatus,
    NoteVersion,
)
from vbostotte.privacy import consent, data_export

PEOPLE = [("a", "citizen"), ("a", "other_citizen"), ("b", "citizen"), ("b", "other_citizen")]
KINDS_OF_TEXT = ("ord", "opgave", "mål", "skridt", "notat")  # check-in words, task, goal, step, shared note
NEVER = ("hemmeligt", "kladde")  # a signed note not shared, a shared draft: never in anyone's export


def marker(where: str, key: str) -> str:
    return f"{key}-{where}"


async def seed(db, world, where: str, key: str, now: dt.datetime) -> None:
    """One citizen's data of every kind, each text carrying the citizen's marker."""
    municipality = getattr(world, where)
    person = getattr(municipality, key)
    worker = municipality.worker if key == "citizen" else municipality.other_worker
    me = Actor(kind="citizen", id=person.id, municipality_id=municipality.id, role="citizen")
    citizen = await db.get(Citizen, person.id)
    mark = marker(where, key)
    await consent.give(db, me, person.id, consent.Kind.WORKER_SEES_CHECKINS, "citizen_page", now)
    await checkins.check_in(db, me, 2, f"ord {mark}", now)
    await day_plan.add_task(db, me, citizen, f"opgave {mark}", None, now)
    await day_plan.grade_day(db, me, 3, now)
    goal = Goal(
        municipality_id=municipality.id,
        citizen_id=person.id,
        title=f"mål {mark}",
        status=GoalStatus.UNDER_WAY,
        created_by_id=worker.id,
        created_at=now,
    )
    db.add(goal)
    await db.flush()
    db.add(GoalStep(goal_id=goal.id, position=1, text=f"skridt {mark}"))
    for text, shared, status in (
        (f"notat {mark}", True, NoteStatus.SIGNED),
        (f"hemmeligt {mark}", False, NoteStatus.SIGNED),
        (f"kladde {mark}", True, NoteStatus.DRAFT),
    ):
        note = Note(
            municipality_id=municipality.id,
            citizen_id=person.id,
            author_id=worker.id,
            team_id=municipality.team_id,
            shared_with_citizen=shared,
            created_at=now,
        )
        db.add(note)
        await db.flush()
        signed = status == NoteStatus.SIGNED
        db.add(
            NoteVersion(
                note_id=note.id,
                number=1,
                talked_about=text,
                agreements="",
                status=status,
                created_at=now,
                updated_at=now,
                signed_at=now if signed else None,
                signed_by_id=worker.id if signed else None,
            )
        )
    await db.flush()


@pytest.fixture
async def seeded(world, db, clock):
    for where, key in PEOPLE:
        await seed(db, world, where, key, clock())
    await db.commit()
    return world


def everything_foreign(world, where: str, key: str) -> list[str]:
    """What must not be in this citizen's export: the others' texts and names, staff names and addresses."""
    found = []
    for other_where, other_key in PEOPLE:
        if (other_where, other_key) == (where, key):
            continue
        person = getattr(getattr(world, other_where), other_key)
        found += [f"{kind} {marker(other_where, other_key)}" for kind in KINDS_OF_TEXT]
        found += [person.name, f"Agenda for {person.name}"]
    for m in (world.a, world.b):
        found += [s.name for s in (m.admin, m.supervisor, m.worker, m.other_worker)]
        found += [s.email for s in (m.admin, m.supervisor, m.worker, m.other_worker)]
    return found + [f"{kind} {marker(w, k)}" for kind in NEVER for w, k in PEOPLE]


@pytest.mark.parametrize("where,key", PEOPLE)
async def test_the_export_holds_exactly_the_citizens_own_data(seeded, db, clock, where, key):
    world = seeded
    municipality = getattr(world, where)
    person = getattr(municipality, key)
    me = Actor(kind="citizen", id=person.id, municipality_id=municipality.id, role="citizen")
    export = await data_export.gather(db, me, await db.get(Citizen, person.id), clock(), "json")
    await db.commit()
    text = data_export.to_json(export)
    assert json.loads(text)["citizen"]["id"] == person.id

    mark = marker(where, key)
    assert [f"{kind} {mark}" for kind in KINDS_OF_TEXT if f"{kind} {mark}" not in text] == []
    # (The own name is taken out first: "Other_Citizen Aarhus" contains "Citizen Aarhus".)
    rest = text.replace(person.name, "")
    assert [item for item in everything_foreign(world, where, key) if item in rest] == []

    # Row by row, not only text: every item is the citizen's own, and none of theirs is missing.
    assert {a["id"] for a in export["appointments"]} == {person.appointment_id, person.past_appointment_id}
    own_goals = set((await db.execute(select(Goal.id).where(Goal.citizen_id == person.id))).scalars())
    assert {g["id"] for g in export["goals"]} == own_goals
    assert [n["talked_about"] for n in export["shared_notes"]] == [f"notat {mark}"]
    assert [c["words"] for c in export["checkins"]] == [f"ord {mark}"]
    titles = [t["title"] for t in export["day_plans"]["tasks"]]
    assert f"opgave {mark}" in titles and len(export["day_plans"]["grades"]) == 1
    own_events = (
        await db.execute(select(func.count()).select_from(ConsentEvent).where(ConsentEvent.citizen_id == person.id))
    ).scalar_one()
    assert len(export["consents"]["events"]) == own_events > 0
    own_log = (
        await db.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.citizen_id == person.id))
    ).scalar_one()
    assert len(export["access_log"]) == own_log
    assert export["access_log"][-1] == {
        "at": clock(),
        "action": "data_export.json",
        "purpose": "data_access",
        "by": "you",
        "outcome": "allowed",
    }  # the download itself is logged
    assert not {"actor_id", "name"} & {k for row in export["access_log"] for k in row}


async def test_a_workers_download_leaves_out_check_ins_and_day_plans_without_consent(seeded, db, clock):
    world = seeded
    citizen = await db.get(Citizen, world.a.citizen.id)
    with_consent = await data_export.gather(db, world.a.worker.actor, citizen, clock(), "html")
    assert with_consent["checkins"] and with_consent["left_out"] == []
    assert with_consent["access_log"][-1]["by"] == "worker"

    me = Actor(kind="citizen", id=citizen.id, municipality_id=world.a.id, role="citizen")
    await consent.withdraw(db, me, citizen.id, consent.Kind.WORKER_SEES_CHECKINS, "citizen_page", clock())
    without = await data_export.gather(db, world.a.worker.actor, citizen, clock(), "json")
    assert without["checkins"] is None and without["day_plans"] is None
    assert without["left_out"] == ["checkins", "day_plans"]
    assert "ord citizen-a" not in data_export.to_json(without)
    # The citizen's own download always has everything.
    assert (await data_export.gather(db, me, citizen, clock(), "json"))["checkins"]
