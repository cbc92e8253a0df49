"""A realistic year of data, seeded fast with bulk core inserts (table.insert() executemany) (never through HTTP), deterministic for a seed.

One municipality with 4 teams, 2 supervisors, 24 support workers and 320 citizens; about 21,000
appointments over 52 weeks with reminders (outbox rows), answers, cancellations, attendance, call events,
interpreters, check-ins and goals; and a small second municipality that must never show up.
The generated rows are returned as plain dicts, so tests can compute the expected statistics in Python.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

import pyotp
from sqlalchemy import text

from vbostotte import db as database
from vbostotte.models import (
    Appointment,
    CallEvent,
    Caseload,
    CheckIn,
    Citizen,
    Goal,
    GoalEvent,
    Municipality,
    MunicipalitySettings,
    OutboxMessage,
    Staff,
    Team,
    TeamMember,
)

UTC = dt.UTC
FIRST_DAY = dt.date(2025, 11, 24)  # a Monday; the year ends the day before the test clock's Monday
WEEKS = 52
SLOTS_UTC = (7, 9, 11, 13)  # hour-long appointments, never overlapping
TRAVEL = (30, 45, 20, 60)
CUTOFF_MINUTES = 180


@dataclass
class Year:
    municipality_id: int
    team_ids: list[int]
    supervisors: dict[int, list[int]]  # supervisor id -> team ids
    workers: dict[int, int]  # worker id -> team id
    citizen_team: dict[int, int]
    travel: dict[int, int]
    totp_secret: str
    appointments: list[dict] = field(default_factory=list)
    outbox: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    checkins: list[dict] = field(default_factory=list)
    goal_events: list[dict] = field(default_factory=list)
    goal_citizen: dict[int, int] = field(default_factory=dict)
    caseloads: set[tuple[int, int]] = field(default_factory=set)
    other_municipality_id: int = 0
    other_team_id: int = 0


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


class _Ids:
    def __init__(self) -> None:
        self.next = {}

    def __call__(self, kind: str) -> int:
        self.next[kind] = self.next.get(kind, 0) + 1
        return self.next[kind]


async def seed(engine, *, seed: int = 2026, password_hash: str = "not-a-password") -> Year:
    """Seed the year into a migrated, empty database and return what was written."""
    rnd, ids = random.Random(seed), _Ids()
    created = _at(FIRST_DAY, 0) - dt.timedelta(days=30)
    secret = pyotp.random_base32()
    rows: dict[type, list[dict]] = {
        model: []
        for model in (
            Municipality,
            MunicipalitySettings,
            Team,
            Staff,
            TeamMember,
            Citizen,
            Caseload,
            Appointment,
            OutboxMessage,
            CallEvent,
            CheckIn,
            Goal,
            GoalEvent,
        )
    }

    def staff(municipality_id: int, role: str, name: str) -> int:
        staff_id = ids("staff")
        rows[Staff].append(
            dict(
                id=staff_id,
                municipality_id=municipality_id,
                email=f"s{staff_id}@year.example.dk",
                name=name,
                role=role,
                password_hash=password_hash,
                totp_secret=secret,
                active=True,
                created_at=created,
            )
        )
        return staff_id

    municipality_id, other_id = ids("municipality"), ids("municipality")
    for m_id, name in ((municipality_id, "Årskommune"), (other_id, "Andenkommune")):
        rows[Municipality].append(dict(id=m_id, name=name, created_at=created))
        rows[MunicipalitySettings].append(
            dict(
                municipality_id=m_id,
                reminder_offsets_minutes="1440,60",
                confirm_cutoff_minutes=CUTOFF_MINUTES,
                crisis_line_text="",
            )
        )
    team_ids = []
    for i in range(4):
        team_ids.append(ids("team"))
        rows[Team].append(
            dict(id=team_ids[-1], municipality_id=municipality_id, name=f"Team {'ABCD'[i]}", travel_minutes=TRAVEL[i])
        )
    other_team = ids("team")
    rows[Team].append(dict(id=other_team, municipality_id=other_id, name="Team Anden", travel_minutes=30))
    year = Year(
        municipality_id,
        team_ids,
        {},
        {},
        {},
        dict(zip(team_ids, TRAVEL, strict=False)),
        secret,
        other_municipality_id=other_id,
        other_team_id=other_team,
    )
    staff(municipality_id, "admin", "Admin Årskommune")
    for pair in ((team_ids[0], team_ids[1]), (team_ids[2], team_ids[3])):
        supervisor = staff(municipality_id, "supervisor", f"Leder {len(year.supervisors) + 1}")
        year.supervisors[supervisor] = list(pair)
        rows[TeamMember] += [dict(team_id=t, staff_id=supervisor) for t in pair]
    for i in range(24):
        worker = staff(municipality_id, "worker", f"Medarbejder {i + 1:02d}")
        year.workers[worker] = team_ids[i % 4]
        rows[TeamMember].append(dict(team_id=team_ids[i % 4], staff_id=worker))
    other_worker = staff(other_id, "worker", "Anden Medarbejder")
    other_supervisor = staff(other_id, "supervisor", "Anden Leder")
    rows[TeamMember] += [
        dict(team_id=other_team, staff_id=other_worker),
        dict(team_id=other_team, staff_id=other_supervisor),
    ]

    caseload: dict[int, list[int]] = {w: [] for w in [*year.workers, other_worker]}
    for i in range(330):
        citizen_id = ids("citizen")
        other = i >= 320
        worker = other_worker if other else list(year.workers)[i % 24]
        team = other_team if other else year.workers[worker]
        rows[Citizen].append(
            dict(
                id=citizen_id,
                municipality_id=other_id if other else municipality_id,
                team_id=team,
                name=f"Borger {citizen_id:03d}",
                preferred_name=f"B{citizen_id}",
                locale="da",
                force_relay=False,
                created_at=created,
            )
        )
        year.citizen_team[citizen_id] = team
        caseload[worker].append(citizen_id)
        year.caseloads.add((worker, citizen_id))
    rows[Caseload] += [dict(staff_id=w, citizen_id=c) for w, c in year.caseloads]

    for worker, citizens in caseload.items():
        weeks = WEEKS if worker != other_worker else 5
        for week in range(weeks):
            for weekday in range(5):
                day = FIRST_DAY + dt.timedelta(days=7 * week + weekday)
                for hour in SLOTS_UTC:
                    if rnd.random() < 0.15:
                        continue
                    _appointment(rnd, ids, rows, year, worker, rnd.choice(citizens), _at(day, hour))
    for citizen_id in list(year.citizen_team)[:320]:
        for _ in range(rnd.randrange(0, 6)):
            day = FIRST_DAY + dt.timedelta(days=rnd.randrange(0, 7 * WEEKS))
            row = dict(
                id=ids("checkin"),
                municipality_id=municipality_id,
                citizen_id=citizen_id,
                level=rnd.randint(1, 5),
                day=day,
                at=_at(day, rnd.randrange(6, 20)),
            )
            rows[CheckIn].append(row)
            year.checkins.append(row)
        if rnd.random() < 0.4:
            goal_id = ids("goal")
            worker = next(w for w, c in year.caseloads if c == citizen_id)
            achieved = rnd.random() < 0.5
            rows[Goal].append(
                dict(
                    id=goal_id,
                    municipality_id=municipality_id,
                    citizen_id=citizen_id,
                    title="Gå en tur",
                    status="achieved" if achieved else "under_way",
                    created_by_id=worker,
                    created_at=created,
                )
            )
            year.goal_citizen[goal_id] = citizen_id
            if achieved:
                at = _at(FIRST_DAY, 10) + dt.timedelta(days=rnd.randrange(0, 7 * WEEKS))
                row = dict(
                    id=ids("goal_event"),
                    goal_id=goal_id,
                    at=at,
                    actor_kind="staff",
                    actor_id=worker,
                    event="status",
                    status="achieved",
                )
                rows[GoalEvent].append(row)
                year.goal_events.append(row)
    year.appointments, year.outbox, year.events = rows[Appointment], rows[OutboxMessage], rows[CallEvent]

    async with database.sessionmaker(engine)() as session, session.begin():
        triggers = await _without_overlap_triggers(session)
        for model, batch in rows.items():
            for start in range(0, len(batch), 5000):
                if batch[start : start + 5000]:
                    await session.execute(model.__table__.insert(), batch[start : start + 5000])
        for sql in triggers:
            await session.execute(text(sql))
    return year


async def _without_overlap_triggers(session) -> list[str]:
    """SQLite only: drop the no-double-booking triggers for the bulk load, returning the SQL that puts them back.

    Each trigger scans the worker's appointments, which makes a bulk load quadratic; the seeded slots never
    overlap (and PostgreSQL's exclusion constraint, an index, stays on)."""
    if session.get_bind().dialect.name != "sqlite":
        return []
    found = (
        await session.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'appointments'")
        )
    ).all()
    for name, _ in found:
        await session.execute(text(f'DROP TRIGGER "{name}"'))
    return [sql for _, sql in found]


def _appointment(
    rnd: random.Random, ids: _Ids, rows: dict, year: Year, worker: int, citizen: int, starts: dt.datetime
) -> None:
    appointment_id = ids("appointment")
    kind = "video" if rnd.random() < 0.45 else "home_visit"
    interpreter = rnd.random() < 0.06
    row = dict(
        id=appointment_id,
        municipality_id=year.municipality_id
        if citizen in year.citizen_team and year.citizen_team[citizen] != year.other_team_id
        else year.other_municipality_id,
        citizen_id=citizen,
        worker_id=worker,
        kind=kind,
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=45),
        created_at=starts - dt.timedelta(days=rnd.randrange(2, 30)),
        created_by_id=worker,
        response="none",
        responded_at=None,
        cancelled_at=None,
        cancelled_by=None,
        attendance=None,
        interpreter_name="Tina Tolk" if interpreter else None,
        interpreter_language="arabisk" if interpreter else None,
        interpreter_released_at=None,
        sequence=0,
    )
    draw = rnd.random()
    if draw < 0.05:  # "I can't come": cancels at once
        row.update(response="cant_come", responded_at=starts - dt.timedelta(hours=rnd.choice((1, 2, 20, 48))))
        row.update(cancelled_at=row["responded_at"], cancelled_by="citizen", sequence=1)
    elif draw < 0.11:
        row.update(cancelled_at=starts - dt.timedelta(hours=rnd.choice((1, 4, 30))), cancelled_by="worker", sequence=1)
    elif draw < 0.66:
        row.update(response="confirmed", responded_at=starts - dt.timedelta(hours=rnd.randrange(3, 40)))
    reminder = rnd.choice(("sent", "sent", "sent", "failed", None))
    if reminder:
        status = "dropped" if row["cancelled_at"] else reminder
        rows[OutboxMessage].append(
            dict(
                id=ids("outbox"),
                municipality_id=row["municipality_id"],
                appointment_id=appointment_id,
                purpose="reminder",
                channel=rnd.choice(("sms", "email")),
                recipient_kind="citizen",
                dedupe_key=f"reminder:{appointment_id}:1440",
                due_at=starts - dt.timedelta(days=1),
                status=status,
                attempts=1,
                next_attempt_at=starts - dt.timedelta(days=1),
                sent_at=starts - dt.timedelta(days=1) if status == "sent" else None,
                created_at=row["created_at"],
            )
        )
    if row["cancelled_at"] is None:
        chance = 0.6 + (0.2 if reminder == "sent" else 0) + (0.15 if row["response"] == "confirmed" else 0)
        draw = rnd.random()
        row["attendance"] = (
            "cancelled_late"
            if draw < 0.02
            else None
            if draw < 0.05
            else "attended"
            if rnd.random() < chance
            else "no_show"
        )
        if kind == "video" and row["attendance"] in ("attended", "no_show"):
            _call(rnd, ids, rows, row)
    rows[Appointment].append(row)


def _call(rnd: random.Random, ids: _Ids, rows: dict, appointment: dict) -> None:
    staff, citizen = f"staff-{appointment['worker_id']}", f"citizen-{appointment['citizen_id']}"
    at = appointment["starts_at"] - dt.timedelta(minutes=2)
    events = []

    def event(who: str, role: str, name: str, details: dict, after: float) -> None:
        nonlocal at
        at = at + dt.timedelta(seconds=after)
        events.append(
            dict(
                id=ids("event"),
                appointment_id=appointment["id"],
                at=at,
                participant=who,
                role=role,
                event=name,
                details=details,
            )
        )

    event(staff, "host", "joined", {"waited": False}, 0)
    if appointment["attendance"] == "no_show":
        if rnd.random() < 0.3:  # the citizen came to the waiting room but gave up before being let in
            event(citizen, "guest", "waiting", {}, 60)
            event(citizen, "guest", "left", {"reason": "hung_up"}, 90)
        event(staff, "host", "left", {"reason": "hung_up"}, 600)
    else:
        waited = rnd.randrange(5, 400)
        event(citizen, "guest", "waiting", {}, 30)
        event(citizen, "guest", "admitted", {"by": staff, "waited_seconds": waited + 0.5}, waited)
        if rnd.random() < 0.9:
            event(
                citizen,
                "guest",
                "connection_type",
                {"type": "relayed" if rnd.random() < 0.25 else "direct", "rtt_ms": 40},
                3,
            )
        if rnd.random() < 0.1:
            event(citizen, "guest", "reconnected", {}, 300)
        length = rnd.randrange(10 * 60, 50 * 60)
        end = rnd.random()
        if end < 0.05:
            event(citizen, "guest", "left", {"reason": "network_lost"}, length)
            event(staff, "host", "left", {"reason": "hung_up"}, 60)
        elif end < 0.6:
            event(citizen, "guest", "left", {"reason": "hung_up"}, length)
            event(staff, "host", "left", {"reason": "hung_up"}, 10)
        else:
            event(staff, "host", "ended", {"participants": 2}, length)
            event(citizen, "guest", "left", {"reason": "ended_by_host"}, 0)
            event(staff, "host", "left", {"reason": "ended_by_host"}, 0)
    rows[CallEvent] += events
