"""Consent as data: kinds with versioned texts, append-only hash-chained events, the state derived from them."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import shutil
import sqlite3

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from vbostotte import db as database
from vbostotte.actors import Actor
from vbostotte.errors import InvalidInput, NotFound, PermissionDenied
from vbostotte.identity import organisation
from vbostotte.models import AuditEntry, ConsentEvent, ConsentKind, ConsentVersion
from vbostotte.privacy import consent

from support import vbostotte_command

Kind = consent.Kind
NEW_TEXT = consent.Text(
    "Samtaler på video",
    "Jeg vil gerne have videosamtaler. De bliver aldrig optaget.",
    "Video sessions",
    "I want video sessions. They are never recorded.",
)


def citizen_actor(info) -> Actor:
    return Actor(kind="citizen", id=info.id, municipality_id=info.municipality_id, role="citizen")


@pytest.fixture
async def app_engine(database_url):
    engine = database.create_engine(database_url)  # like the app's: SQLite writers serialised
    yield engine
    await engine.dispose()


async def test_every_municipality_has_the_built_in_kinds_with_a_version_1_text(world, db):
    for municipality in (world.a, world.b):
        kinds = await consent.latest_versions(db, municipality.id)
        assert [k.code for k, _ in kinds] == [kind.value for kind in Kind]
        assert {v.version for _, v in kinds} == {1}
        assert all(v.text_sha256 == consent.text_sha256(consent.version_text(v)) for _, v in kinds)
    # Asking again adds nothing.
    await consent.ensure_defaults(db, world.a.id, dt.datetime.now(dt.UTC))
    assert len(await consent.latest_versions(db, world.a.id)) == len(Kind)


async def test_a_new_municipality_gets_the_kinds(db, clock):
    municipality = await organisation.get_or_create_municipality(db, "Ny Kommune", clock())
    assert len(await consent.latest_versions(db, municipality.id)) == len(Kind)


async def test_the_state_is_derived_from_the_latest_event(world, db, clock):
    citizen = world.a.other_citizen  # no consents yet
    worker = world.a.other_worker.actor
    assert not await consent.has(db, citizen.id, Kind.VIDEO)
    states = {s.kind: s for s in await consent.current(db, citizen.id)}
    assert states["video"].state == consent.NEVER and states["video"].at is None

    given = await consent.give(db, worker, citizen.id, Kind.VIDEO, "phone", clock())
    assert await consent.has(db, citizen.id, "video")
    clock.advance(minutes=5)
    await consent.withdraw(db, citizen_actor(citizen), citizen.id, Kind.VIDEO, "citizen_page", clock())
    assert not await consent.has(db, citizen.id, Kind.VIDEO)
    clock.advance(minutes=5)
    await consent.give(db, citizen_actor(citizen), citizen.id, Kind.VIDEO, "citizen_page", clock())
    state = {s.kind: s for s in await consent.current(db, citizen.id)}["video"]
    assert (state.state, state.how, state.recorded_by_kind, state.at) == ("given", "citizen_page", "citizen", clock())
    assert not state.verbal and state.version == 1 and state.text_sha256 == given.text_sha256
    assert not await consent.has(db, citizen.id, Kind.SMS_REMINDERS)  # one kind says nothing about another


async def test_a_worker_recording_a_verbal_consent_is_marked_as_such(world, db, clock):
    citizen = world.a.other_citizen
    await consent.give(db, world.a.other_worker.actor, citizen.id, Kind.SMS_REMINDERS, "video_call", clock())
    state = {s.kind: s for s in await consent.current(db, citizen.id)}["sms_reminders"]
    assert state.verbal and state.how == "video_call"
    assert (state.recorded_by_kind, state.recorded_by) == ("staff", world.a.other_worker.name)
    entries = (
        await db.execute(
            select(AuditEntry.action, AuditEntry.citizen_id, AuditEntry.actor_id).where(
                AuditEntry.action.like("consent.%")
            )
        )
    ).all()
    assert ("consent.give", citizen.id, world.a.other_worker.id) in entries


async def test_giving_twice_or_withdrawing_what_is_not_given_adds_nothing(world, db, clock):
    citizen = world.a.other_citizen
    worker = world.a.other_worker.actor
    assert await consent.withdraw(db, worker, citizen.id, Kind.VIDEO, "phone", clock()) is None
    assert await consent.give(db, worker, citizen.id, Kind.VIDEO, "phone", clock()) is not None
    assert await consent.give(db, worker, citizen.id, Kind.VIDEO, "in_person", clock()) is None
    events = (await db.execute(select(ConsentEvent).where(ConsentEvent.citizen_id == citizen.id))).scalars().all()
    assert len(events) == 1


@pytest.mark.parametrize(
    "who, how, error",
    [
        ("citizen", "phone", InvalidInput),  # a citizen acts on their own page only
        ("worker", "citizen_page", InvalidInput),  # a worker records what was said: in person, phone, video call
        ("worker", "migrated", InvalidInput),
        ("admin", "phone", PermissionDenied),  # administrators do not handle citizens' consents
        ("supervisor", "phone", PermissionDenied),
        ("other_citizen", "citizen_page", NotFound),  # nobody acts for another citizen
        ("foreign_worker", "phone", NotFound),  # nor across municipalities
    ],
)
async def test_who_may_record_how(world, db, clock, who, how, error):
    actor = {
        "citizen": citizen_actor(world.a.citizen),
        "worker": world.a.worker.actor,
        "admin": world.a.admin.actor,
        "supervisor": world.a.supervisor.actor,
        "other_citizen": citizen_actor(world.a.other_citizen),
        "foreign_worker": world.b.worker.actor,
    }[who]
    with pytest.raises(error):
        await consent.withdraw(db, actor, world.a.citizen.id, Kind.VIDEO, how, clock())
    assert await consent.has(db, world.a.citizen.id, Kind.VIDEO)


async def test_an_unknown_kind_is_refused(world, db, clock):
    with pytest.raises(InvalidInput):
        await consent.give(db, world.a.worker.actor, world.a.citizen.id, "photos", "phone", clock())


async def test_a_changed_text_is_a_new_version_and_old_events_keep_theirs(world, db, clock):
    citizen, admin = world.a.citizen, world.a.admin.actor
    kind = (
        await db.execute(
            select(ConsentKind).where(ConsentKind.municipality_id == world.a.id, ConsentKind.code == "video")
        )
    ).scalar_one()
    old = {s.kind: s for s in await consent.current(db, citizen.id)}["video"]
    version = await consent.change_text(db, admin, kind.id, NEW_TEXT, clock())
    assert version.version == 2 and version.text_sha256 == consent.text_sha256(NEW_TEXT) != old.text_sha256
    assert await consent.change_text(db, admin, kind.id, NEW_TEXT, clock()) == version  # unchanged: no version 3

    state = {s.kind: s for s in await consent.current(db, citizen.id)}["video"]
    assert state.given and state.outdated and (state.version, state.current.version) == (1, 2)
    assert state.text_sha256 == old.text_sha256 and state.title("da") == NEW_TEXT.title_da
    assert await consent.has(db, citizen.id, Kind.VIDEO)  # a consent on an older text still counts

    event = await consent.give(db, citizen_actor(citizen), citizen.id, Kind.VIDEO, "citizen_page", clock())
    assert (event.version, event.text_sha256) == (2, version.text_sha256)  # giving again: on the new text
    _, versions = await consent.history(db, admin, kind.id)
    assert [v.version for v in versions] == [2, 1]
    # In another municipality the kind is another row, untouched.
    assert {v.version for _, v in await consent.latest_versions(db, world.b.id)} == {1}


async def test_only_the_municipalitys_administrator_keeps_the_kinds(world, db, clock):
    kind_b = world.b.consent_kind_id
    with pytest.raises(NotFound):
        await consent.change_text(db, world.a.admin.actor, kind_b, NEW_TEXT, clock())
    with pytest.raises(PermissionDenied):
        await consent.change_text(db, world.a.worker.actor, world.a.consent_kind_id, NEW_TEXT, clock())
    with pytest.raises(InvalidInput):
        await consent.add_kind(db, world.a.admin.actor, "Not A Code", NEW_TEXT, clock())
    with pytest.raises(InvalidInput):
        await consent.add_kind(db, world.a.admin.actor, "video", NEW_TEXT, clock())  # exists
    photos = await consent.add_kind(db, world.a.admin.actor, "photos", NEW_TEXT, clock())
    missing = await consent.missing(db, [world.a.citizen.id, world.a.other_citizen.id, world.b.citizen.id])
    assert missing[world.a.citizen.id] == ["photos"]
    assert missing[world.a.other_citizen.id] == [kind.value for kind in Kind] + ["photos"]
    assert missing[world.b.citizen.id] == []  # the new kind is municipality a's only
    await consent.give(db, world.a.worker.actor, world.a.citizen.id, photos.code, "in_person", clock())
    assert await consent.missing(db, [world.a.citizen.id]) == {world.a.citizen.id: []}


async def test_missing_counts_a_withdrawn_consent_as_missing(world, db, clock):
    await consent.withdraw(
        db, citizen_actor(world.a.citizen), world.a.citizen.id, Kind.CASEWORKER_SHARING, "citizen_page", clock()
    )
    assert await consent.missing(db, [world.a.citizen.id]) == {world.a.citizen.id: ["caseworker_sharing"]}


# --- The chain -------------------------------------------------------------------------------------


async def _events(engine, world, clock, count: int) -> None:
    """``count`` alternating give/withdraw events for municipality a's other citizen."""
    async with database.sessionmaker(engine)() as session, session.begin():
        for i in range(count):
            change = consent.give if i % 2 == 0 else consent.withdraw
            await change(session, world.a.other_worker.actor, world.a.other_citizen.id, Kind.VIDEO, "phone", clock())


async def test_a_clean_chain_verifies(world, app_engine, db, clock):
    await _events(app_engine, world, clock, 6)
    assert await consent.verify_chain(db) is None
    rows = (
        (
            await db.execute(
                select(ConsentEvent).where(ConsentEvent.municipality_id == world.a.id).order_by(ConsentEvent.seq)
            )
        )
        .scalars()
        .all()
    )
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, len(rows)))
    assert rows[0].prev_hash == consent.GENESIS


async def test_concurrent_writers_keep_one_unbroken_chain(world, app_engine, db, clock):
    async def flip(kind):
        for _ in range(3):
            await _events_of(kind)

    async def _events_of(kind):
        async with database.sessionmaker(app_engine)() as session, session.begin():
            for change in (consent.give, consent.withdraw):
                await change(session, world.a.other_worker.actor, world.a.other_citizen.id, kind, "phone", clock())

    await asyncio.gather(*(flip(kind) for kind in Kind))
    assert await consent.verify_chain(db) is None
    count = (await db.execute(select(ConsentEvent).where(ConsentEvent.citizen_id == world.a.other_citizen.id))).all()
    assert len(count) == len(Kind) * 6


async def test_the_database_refuses_update_and_delete(world, app_engine):
    for statement in (
        "UPDATE consent_events SET action = 'withdrawn' WHERE seq = 1",
        "DELETE FROM consent_events WHERE seq = 1",
        "UPDATE consent_versions SET text_da = 'Noget andet' WHERE version = 1",
        "DELETE FROM consent_versions",
    ):
        async with database.sessionmaker(app_engine)() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                async with session.begin():
                    await session.execute(text(statement))


async def _tampered(engine, world, *statements: str) -> consent.Broken | None:
    """Tamper inside a transaction that is rolled back (a throw-away copy), and verify what it sees."""
    async with database.sessionmaker(engine)() as session:
        await session.begin()
        for table in ("consent_events", "consent_versions"):
            if engine.dialect.name == "sqlite":
                await session.execute(text(f"DROP TRIGGER {table}_no_update"))
                await session.execute(text(f"DROP TRIGGER {table}_no_delete"))
            else:
                await session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        for statement in statements:
            await session.execute(text(statement.format(m=world.a.id)))
        broken = await consent.verify_chain(session)
        await session.rollback()
    return broken


@pytest.mark.parametrize(
    "statements, seq, reason",
    [
        # The citizen's withdrawal turned into a consent.
        (["UPDATE consent_events SET action = 'given' WHERE municipality_id = {m} AND seq = 8"], 8, "changed"),
        (["UPDATE consent_events SET how = 'phone' WHERE municipality_id = {m} AND seq = 2"], 2, "changed"),
        (["DELETE FROM consent_events WHERE municipality_id = {m} AND seq = 5"], 5, "missing"),
        (
            [
                "UPDATE consent_events SET seq = 1000 WHERE municipality_id = {m} AND seq = 3",
                "UPDATE consent_events SET seq = 3 WHERE municipality_id = {m} AND seq = 4",
                "UPDATE consent_events SET seq = 4 WHERE municipality_id = {m} AND seq = 1000",
            ],
            3,
            "link",
        ),
        (["DELETE FROM consent_events WHERE municipality_id = {m} AND seq = 10"], 10, "removed at the end"),
        # The text a consent was given on, changed in place (hash and all).
        (
            [
                "UPDATE consent_versions SET text_da = 'Jeg siger ja til alt.' WHERE id = "
                "(SELECT version_id FROM consent_events WHERE municipality_id = {m} AND seq = 1)"
            ],
            1,
            "text",
        ),
    ],
)
async def test_editing_deleting_or_reordering_one_event_is_detected(world, app_engine, clock, statements, seq, reason):
    await _events(app_engine, world, clock, 4)  # after the world's 6: seq 1..10 in municipality a
    broken = await _tampered(app_engine, world, *statements)
    assert broken is not None, "tampering went unnoticed"
    assert (broken.municipality_id, broken.seq) == (world.a.id, seq)
    assert reason in broken.reason


def test_verify_audit_also_verifies_the_consent_chain_in_a_copy(tmp_path):
    original = tmp_path / "original.db"
    url = f"sqlite+aiosqlite:///{original}"
    env = {"VB_DATABASE_URL": url, "VB_DATA_DIR": str(tmp_path)}
    assert vbostotte_command(env, "migrate")[0] == 0
    assert vbostotte_command(env, "seed-demo")[0] == 0
    code, printed = vbostotte_command(env, "verify-audit")
    assert code == 0, printed
    assert "consent chain OK: 10 events verified" in printed  # the demo's consents: 4 + 3 + 2 + 1

    copy = tmp_path / "copy.db"
    shutil.copy(original, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TRIGGER consent_events_no_update")
        conn.execute("UPDATE consent_events SET action = 'withdrawn' WHERE seq = 3")
    code, printed = vbostotte_command({**env, "VB_DATABASE_URL": f"sqlite+aiosqlite:///{copy}"}, "verify-audit")
    assert code == 1
    assert "consent chain BROKEN" in printed and "(number 3)" in printed


def test_the_migration_turns_reminder_preferences_into_consent_events(tmp_path):
    """Upgrading keeps every citizen's reminders: each "yes" becomes a consent event (how = "migrated")."""
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"

    async def run():
        engine = database.create_engine(url)
        try:
            await database.migrate(engine, "0005")
            async with engine.begin() as conn:
                now = "2026-11-23 07:00:00.000000"
                await conn.execute(
                    text(f"INSERT INTO municipalities (id, name, created_at) VALUES (1, 'Gl. Kommune', '{now}')")
                )
                await conn.execute(text("INSERT INTO teams (id, municipality_id, name) VALUES (1, 1, 'Team')"))
                for citizen_id in (1, 2, 3):
                    await conn.execute(
                        text(
                            "INSERT INTO citizens (id, municipality_id, team_id, name, preferred_name, locale, force_relay, "
                            f"created_at) VALUES ({citizen_id}, 1, 1, 'Borger {citizen_id}', 'B', 'da', 0, '{now}')"
                        )
                    )
                await conn.execute(
                    text(
                        "INSERT INTO reminder_preferences (citizen_id, email, sms) "
                        "VALUES (1, 1, 1), (2, 0, 1), (3, 0, 0)"
                    )
                )
            await database.migrate(engine)
            async with database.sessionmaker(engine)() as session:
                assert await consent.verify_chain(session) is None
                channels = {
                    cid: [k for k in ("email_reminders", "sms_reminders") if await consent.has(session, cid, k)]
                    for cid in (1, 2, 3)
                }
                hows = set((await session.execute(select(ConsentEvent.how, ConsentEvent.recorded_by_kind))).all())
                kinds = await consent.latest_versions(session, 1)
            return channels, hows, len(kinds)
        finally:
            await engine.dispose()

    channels, hows, kinds = asyncio.new_event_loop().run_until_complete(run())
    assert channels == {1: ["email_reminders", "sms_reminders"], 2: ["sms_reminders"], 3: []}
    assert hows == {("migrated", "system")}
    assert kinds == len(Kind)


async def test_versions_and_events_hold_the_text_hash(world, db):
    versions = (await db.execute(select(ConsentVersion))).scalars().all()
    assert versions and all(len(v.text_sha256) == 64 for v in versions)
    event = (await db.execute(select(ConsentEvent).limit(1))).scalar_one()
    version = await db.get(ConsentVersion, event.version_id)
    assert event.text_sha256 == version.text_sha256 and dataclasses.is_dataclass(consent.version_text(version))
