"""Named kinds (issue 19): call events keep their participant's kind and id, outbox messages the time they were
planned for — written by the code, filled in for older rows by migration 0017 — and the models and the
migrations describe the same schema."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from conftest import PG_URL
from signaling import Event, Participant
from vbostotte import db as database
from vbostotte.calls import calls
from vbostotte.models import Base, CallEvent, OutboxMessage, OutboxStatus, PrincipalKind
from vbostotte.review import review

UTC = sa.DateTime(timezone=True)
START = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
NOW = START - dt.timedelta(days=3)

# The tables as they were at 0016, written the old way: the kinds and times only inside strings.
OLD = sa.MetaData()
municipalities = sa.Table("municipalities", OLD, sa.Column("id"), sa.Column("name"), sa.Column("created_at", UTC))
teams = sa.Table("teams", OLD, sa.Column("id"), sa.Column("municipality_id"), sa.Column("name"))
staff = sa.Table(
    "staff",
    OLD,
    *(sa.Column(name) for name in ("id", "municipality_id", "email", "name", "role", "password_hash")),
    sa.Column("active", sa.Boolean),
    sa.Column("created_at", UTC),
)
citizens = sa.Table(
    "citizens",
    OLD,
    *(sa.Column(name) for name in ("id", "municipality_id", "team_id", "name", "preferred_name", "locale")),
    sa.Column("created_at", UTC),
)
appointments = sa.Table(
    "appointments",
    OLD,
    *(sa.Column(name) for name in ("id", "municipality_id", "citizen_id", "worker_id", "kind")),
    *(sa.Column(name, UTC) for name in ("starts_at", "ends_at", "created_at")),
)
call_events = sa.Table(
    "call_events",
    OLD,
    *(sa.Column(name) for name in ("id", "appointment_id", "participant", "role", "event")),
    sa.Column("at", UTC),
    sa.Column("details", sa.JSON),
)
outbox = sa.Table(
    "outbox",
    OLD,
    *(sa.Column(name) for name in ("id", "municipality_id", "appointment_id", "purpose", "channel")),
    *(sa.Column(name) for name in ("recipient_kind", "dedupe_key", "status", "attempts")),
    *(sa.Column(name, UTC) for name in ("due_at", "next_attempt_at", "created_at")),
)

PARTICIPANTS = {  # participant id -> (kind, id) filled in by 0017
    "staff-3": ("staff", 3),
    "citizen-7": ("citizen", 7),
    "guest-12": ("guest", 12),
    "citizen-x": (None, None),
    "robot-1": (None, None),
}
KEYS = {  # dedupe key -> planned_for filled in by 0017
    "reminder:1:20261123T090000Z:1440:sms": START,
    "interpreter_new_link:1:20261123T090000Z:5:email": START,
    "interpreter_invite:1:20261123T090000Z:email": START,
    "day_task_reminder:4:20261121T063000Z:sms": dt.datetime(2026, 11, 21, 6, 30, tzinfo=dt.UTC),
    "r1": None,
    "odd:1:yesterday:sms": None,
}


def _run(coro):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


async def _fresh_postgres_url() -> str:
    """A database of its own beside the suite's (created when missing), emptied: this test migrates it by steps."""
    url = make_url(PG_URL)
    own = url.set(database=f"{url.database}_migration_0017")
    server = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as conn:
            if not await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": own.database}):
                await conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        await server.dispose()
    engine = database.create_engine(own.render_as_string(hide_password=False))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    return own.render_as_string(hide_password=False)


async def _insert_old_rows(conn) -> None:
    await conn.execute(municipalities.insert(), [{"id": 1, "name": "Gl. Kommune", "created_at": NOW}])
    await conn.execute(teams.insert(), [{"id": 1, "municipality_id": 1, "name": "Team"}])
    await conn.execute(
        staff.insert(),
        [
            {
                "id": 3,
                "municipality_id": 1,
                "email": "w@example.org",
                "name": "Worker",
                "role": "worker",
                "password_hash": "x",
                "active": True,
                "created_at": NOW,
            }
        ],
    )
    await conn.execute(
        citizens.insert(),
        [
            {
                "id": 7,
                "municipality_id": 1,
                "team_id": 1,
                "name": "Borger",
                "preferred_name": "B",
                "locale": "da",
                "created_at": NOW,
            }
        ],
    )
    await conn.execute(
        appointments.insert(),
        [
            {
                "id": 1,
                "municipality_id": 1,
                "citizen_id": 7,
                "worker_id": 3,
                "kind": "video",
                "starts_at": START,
                "ends_at": START + dt.timedelta(minutes=45),
                "created_at": NOW,
            }
        ],
    )
    events = [
        ("staff-3", "host", "joined", {"waited": False}),
        ("citizen-7", "guest", "waiting", {}),
        ("citizen-7", "guest", "admitted", {"by": "staff-3", "waited_seconds": 20.0}),
        ("guest-12", "guest", "waiting", {}),
        ("citizen-x", "guest", "waiting", {}),
        ("robot-1", "guest", "waiting", {}),
        ("citizen-7", "guest", "left", {"reason": "hung_up"}),
    ]
    await conn.execute(
        call_events.insert(),
        [
            {
                "id": n,
                "appointment_id": 1,
                "at": START + dt.timedelta(minutes=n),
                "participant": who,
                "role": role,
                "event": event,
                "details": details,
            }
            for n, (who, role, event, details) in enumerate(events, start=1)
        ],
    )
    await conn.execute(
        outbox.insert(),
        [
            {
                "id": n,
                "municipality_id": 1,
                "appointment_id": None if key.startswith("day_task") else 1,
                "purpose": key.split(":")[0],
                "channel": "sms",
                "recipient_kind": "citizen",
                "dedupe_key": key,
                "status": "pending",
                "attempts": 0,
                "due_at": NOW,
                "next_attempt_at": NOW,
                "created_at": NOW,
            }
            for n, key in enumerate(KEYS, start=1)
        ],
    )


@pytest.mark.postgres  # a database of its own beside the test's on PostgreSQL (no database fixture)
def test_migration_0017_fills_the_new_columns_from_old_style_rows(tmp_path):
    """Rows written before 0017 get their participant's kind and id, and the time their message was planned for,
    from the strings they were kept in; strings not of that form leave None."""

    async def run():
        url = await _fresh_postgres_url() if PG_URL else f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        engine = database.create_engine(url)
        try:
            await database.migrate(engine, "0016")
            async with engine.begin() as conn:
                await _insert_old_rows(conn)
            await database.migrate(engine, "0017")
            async with database.sessionmaker(engine)() as session:
                events = list((await session.execute(select(CallEvent).order_by(CallEvent.id))).scalars())
                messages = list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
            return events, messages
        finally:
            await engine.dispose()

    events, messages = _run(run())
    assert {e.participant: (e.participant_kind, e.participant_ref) for e in events} == PARTICIPANTS
    assert {m.dedupe_key: m.planned_for for m in messages} == KEYS
    assert all(m.status == OutboxStatus.PENDING for m in messages)
    # And the session log reads them: the citizen was in the call, let in by the worker.
    summary = review.summarise_call(events)
    assert summary.joined and summary.waited_seconds == 20.0 and summary.ended_how == "citizen_hung_up"


async def test_recorded_call_events_keep_their_participant_kind_and_id(world, db, clock):
    room = calls.room_name(world.a.citizen.appointment_id)
    people = [
        Participant(id=f"staff-{world.a.worker.id}", room=room, role="host", name="Worker"),
        Participant(id=f"citizen-{world.a.citizen.id}", room=room, role="guest", name="Citizen"),
        Participant(id="guest-5", room=room, role="guest", name="Tolk"),
    ]
    now = clock().timestamp()
    await calls.record_events(db, [Event("waiting", person, {}, now) for person in people])
    await db.commit()
    events = await calls.events_of(db, world.a.citizen.appointment_id)
    assert [(e.participant_kind, e.participant_ref) for e in events] == [
        (PrincipalKind.STAFF, world.a.worker.id),
        (PrincipalKind.CITIZEN, world.a.citizen.id),
        (PrincipalKind.GUEST, 5),
    ]


def _known_difference(diff) -> bool:
    """SQLite's reflection does not read back the name and ON DELETE of the outbox's day_task_id foreign key,
    which 0008 adds in place (see there): the constraint is in the database all the same."""
    return diff[0] in ("remove_fk", "add_fk") and diff[1].parent.name == "outbox" and "day_task_id" in diff[1].parent.c


def test_the_models_and_the_migrations_agree(migrated_database):
    """The migrated schema is what the models describe (columns, types, nullability, indexes, keys)."""
    url = PG_URL or f"sqlite+aiosqlite:///{migrated_database}"

    async def compare():
        engine = database.create_engine(url, immediate=False)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                    )
                )
        finally:
            await engine.dispose()

    differences = [d for d in _run(compare()) if not (isinstance(d, tuple) and _known_difference(d))]
    assert differences == []
