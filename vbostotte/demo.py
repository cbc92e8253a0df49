"""Demo data: one municipality, an administrator, a supervisor, two workers, four citizens and a
week of appointments, so a newcomer can click through every role. The workers have working hours (so the first
booking finds free times) and the municipality a crisis-line text (shown with the lowest wellbeing answer)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte.actors import Actor
from vbostotte.booking import availability
from vbostotte.care import goals, notes
from vbostotte.config import Settings
from vbostotte.i18n import TZ
from vbostotte.identity import citizens as citizen_service
from vbostotte.identity import links, sessions
from vbostotte.identity.organisation import create_staff, get_or_create_municipality, update_booking_settings
from vbostotte.models import (
    Appointment,
    AppointmentKind,
    Caseload,
    Citizen,
    Municipality,
    MunicipalitySettings,
    PersonalLink,
    Staff,
    StaffRole,
    Team,
    TeamMember,
    WorkingHours,
)
from vbostotte.privacy import consent

MUNICIPALITY = "Demo Kommune"
PASSWORD = "demo-bostotte-2026"
STAFF = (
    ("admin@demo.vbostotte.dk", "Ali Administrator", StaffRole.ADMIN),
    ("leder@demo.vbostotte.dk", "Lone Leder", StaffRole.SUPERVISOR),
    ("anna@demo.vbostotte.dk", "Anna Jensen", StaffRole.WORKER),
    ("bo@demo.vbostotte.dk", "Bo Nielsen", StaffRole.WORKER),
)
CITIZENS = (  # name, preferred name, phone, worker index in STAFF
    ("Mette Hansen", "Mette", "+4520000001", 2),
    ("Karim Ahmadi", "Karim", "+4520000002", 2),
    ("Sofie Larsen", "Sofie", "+4520000003", 3),
    ("Jens Poulsen", "Jens", "+4520000004", 3),
)
SLOTS = ((9, 0), (10, 30), (13, 0), (14, 30))
WORKING_HOURS = [(weekday, 8 * 60, 15 * 60 + 30) for weekday in range(5)]  # Monday–Friday 08.00–15.30
MESSAGE_HOURS = [(weekday, 9 * 60, 14 * 60) for weekday in range(5)]  # when they answer messages
CRISIS_LINE = (
    "Har du det meget svært lige nu? Ring til Livslinien på 70 201 201 (hver dag kl. 11–05). "
    "Er der fare for liv, så ring 112."
)
DEMO_CONSENTS = (
    consent.Kind.VIDEO,
    consent.Kind.SMS_REMINDERS,
    consent.Kind.WORKER_SEES_CHECKINS,
    consent.Kind.CASEWORKER_SHARING,
)


@dataclass(frozen=True)
class DemoInfo:
    logins: list[tuple[str, str, str]]  # e-mail, password, role
    citizen_links: list[tuple[str, str]]  # name, personal link


def demo_token(settings: Settings, citizen_name: str) -> str:
    """A stable demo link token derived from the secret key (demo only; real links are random)."""
    return hmac.new(settings.secret_key.encode(), f"demo-link:{citizen_name}".encode(), hashlib.sha256).hexdigest()


async def seed(db: AsyncSession, settings: Settings, now: dt.datetime) -> bool:
    """Create the demo municipality unless it exists. True if it was created now."""
    if (await db.execute(select(Municipality).where(Municipality.name == MUNICIPALITY))).scalar_one_or_none():
        return False
    municipality = await get_or_create_municipality(db, MUNICIPALITY, now)
    system = Actor(kind="system", role="system", municipality_id=municipality.id)
    team = Team(municipality_id=municipality.id, name="Team Øst")
    db.add(team)
    await db.flush()
    staff = []
    for email, name, role in STAFF:
        member = await create_staff(
            db, system, municipality.id, email=email, name=name, role=role, password=PASSWORD, now=now
        )
        staff.append(member)
        if role != StaffRole.ADMIN:
            db.add(TeamMember(team_id=team.id, staff_id=member.id))
    await db.flush()
    for index, (name, preferred, phone, worker_index) in enumerate(CITIZENS):
        citizen = await citizen_service.register(
            db,
            system,
            citizen_service.NewCitizen(name=name, preferred_name=preferred, phone=phone),
            now,
            team_id=team.id,
            worker_id=staff[worker_index].id,
        )
        db.add(
            PersonalLink(
                citizen_id=citizen.id,
                token_hash=sessions.token_hash(demo_token(settings, name)),
                issued_by_id=staff[worker_index].id,
                issued_at=now,
            )
        )
        # Consents given in person to their worker; the last citizens lack some, so the worker's overview shows gaps.
        worker = Actor(
            kind="staff", id=staff[worker_index].id, municipality_id=municipality.id, role=StaffRole.WORKER.value
        )
        for kind in DEMO_CONSENTS[: len(DEMO_CONSENTS) - index]:
            await consent.give(db, worker, citizen.id, kind, consent.How.IN_PERSON, now)
    await db.flush()
    await ensure_ready(db)
    await ensure_week(db, now)
    await goals_and_a_shared_note(db, municipality.id, now)
    return True


async def load(db: AsyncSession, settings: Settings, now: dt.datetime) -> DemoInfo:
    """What ``vbostotte serve --demo`` loads before it starts: the demo (once), working hours and the crisis line
    (also in an older demo database), a week of appointments ahead; then the logins and links to print."""
    await seed(db, settings, now)
    await ensure_ready(db)
    await ensure_week(db, now)
    return await info(db, settings)


async def ensure_ready(db: AsyncSession) -> int:
    """Give the demo workers working hours and the municipality a crisis-line text where they have none (also in
    a demo database made before they were part of the demo). Returns how many workers got hours."""
    municipality = (await db.execute(select(Municipality).where(Municipality.name == MUNICIPALITY))).scalar_one()
    workers = (
        await db.execute(
            select(Staff)
            .where(Staff.municipality_id == municipality.id, Staff.role == StaffRole.WORKER)
            .where(~select(WorkingHours.id).where(WorkingHours.staff_id == Staff.id).exists())
            .order_by(Staff.id)
        )
    ).scalars()
    given = 0
    for worker in workers:
        actor = Actor(kind="staff", id=worker.id, municipality_id=municipality.id, role=StaffRole.WORKER.value)
        await availability.set_working_hours(db, actor, WORKING_HOURS)
        await availability.set_working_hours(db, actor, MESSAGE_HOURS, kind="messages")
        given += 1
    current = await db.get(MunicipalitySettings, municipality.id)
    if current is None or not current.crisis_line_text:
        admin = (
            await db.execute(
                select(Staff).where(Staff.municipality_id == municipality.id, Staff.role == StaffRole.ADMIN)
            )
        ).scalar_one()
        await update_booking_settings(
            db,
            Actor(kind="staff", id=admin.id, municipality_id=municipality.id, role=StaffRole.ADMIN.value),
            reminder_offsets_minutes=[
                int(m) for m in (current.reminder_offsets_minutes if current else "1440,60").split(",")
            ],
            confirm_cutoff_minutes=current.confirm_cutoff_minutes if current else 180,
            crisis_line_text=CRISIS_LINE,
        )
    await db.flush()
    return given


async def ensure_week(db: AsyncSession, now: dt.datetime) -> int:
    """Give every demo citizen appointments over the coming week if they have none ahead. Returns how many."""
    municipality = (await db.execute(select(Municipality).where(Municipality.name == MUNICIPALITY))).scalar_one()
    rows = (
        await db.execute(
            select(Citizen, Caseload.staff_id)
            .join(Caseload, Caseload.citizen_id == Citizen.id)
            .where(Citizen.municipality_id == municipality.id)
            .order_by(Citizen.id)
        )
    ).all()
    created = 0
    today = now.astimezone(TZ).date()
    for index, (citizen, worker_id) in enumerate(rows):
        ahead = await db.execute(
            select(Appointment.id).where(Appointment.citizen_id == citizen.id, Appointment.starts_at > now).limit(1)
        )
        if ahead.first():
            continue
        for day_offset in range(0, 7):
            day = today + dt.timedelta(days=day_offset)
            if day.weekday() >= 5 or (day_offset + index) % 2:
                continue
            hour, minute = SLOTS[index % len(SLOTS)]
            starts = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)
            if starts.astimezone(dt.UTC) <= now:
                continue
            kind = AppointmentKind.VIDEO if (day_offset // 2 + index) % 2 == 0 else AppointmentKind.HOME_VISIT
            db.add(
                Appointment(
                    municipality_id=municipality.id,
                    citizen_id=citizen.id,
                    worker_id=worker_id,
                    kind=kind,
                    starts_at=starts.astimezone(dt.UTC),
                    ends_at=(starts + dt.timedelta(minutes=45)).astimezone(dt.UTC),
                    note_to_citizen="Vi kigger på din plan for ugen." if kind == AppointmentKind.VIDEO else None,
                    created_at=now,
                )
            )
            created += 1
    await db.flush()
    return created


async def info(db: AsyncSession, settings: Settings) -> DemoInfo:
    """The demo logins and each demo citizen's personal link, for printing at start-up."""
    logins = [(email, PASSWORD, role.value) for email, _name, role in STAFF]
    citizen_links = [(name, links.link_url(settings, demo_token(settings, name))) for name, *_ in CITIZENS]
    return DemoInfo(logins=logins, citizen_links=citizen_links)


DEMO_GOALS = (  # title, steps, how many steps are done already
    ("Gå en tur hver dag", ("Gå ned til postkassen", "Gå rundt om søen", "Gå en tur tre dage i træk"), 1),
    ("Handle ind selv", ("Skrive en indkøbsliste", "Handle i Netto med Anna", "Handle alene"), 0),
)


async def goals_and_a_shared_note(db: AsyncSession, municipality_id: int, now: dt.datetime) -> None:
    """Two goals for the first demo citizen, and one signed note shared with her, by her worker."""
    name, _preferred, _phone, worker_index = CITIZENS[0]
    citizen = (
        await db.execute(select(Citizen).where(Citizen.municipality_id == municipality_id, Citizen.name == name))
    ).scalar_one()
    worker = (await db.execute(select(Staff).where(Staff.email == STAFF[worker_index][0]))).scalar_one()
    actor = Actor(
        kind="staff", id=worker.id, municipality_id=municipality_id, role=StaffRole.WORKER.value, name=worker.name
    )
    made = []
    for title, steps, done in DEMO_GOALS:
        goal = await goals.create(db, actor, citizen, title, None, list(steps), now)
        for step in (await goals.steps_of(db, [goal.id]))[goal.id][:done]:
            await goals.tick(db, actor, step.id, True, now)
        made.append(goal.id)
    note = await notes.start(db, actor, citizen, now)
    await notes.save_draft(
        db,
        actor,
        note.id,
        notes.NoteText(
            talked_about="Vi talte om, hvordan ugen er gået, og om at komme ud hver dag.",
            agreements="Mette går ned til postkassen hver dag. Vi ses igen på torsdag.",
            assessment="Mette har mere overskud end sidst og vil gerne i gang med at handle selv.",
        ),
        now,
        goal_ids=made,
        shared=True,
    )
    await notes.sign(db, actor, note.id, now)
