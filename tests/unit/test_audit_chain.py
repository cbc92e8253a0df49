"""The audit log: append-only in the database, hash-chained, and tampering is found."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import sqlite3

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from vbostotte import audit
from vbostotte import db as database
from vbostotte.actors import Actor
from vbostotte.models import AuditEntry

from support import vbostotte_command

ACTOR = Actor(kind="staff", id=7, municipality_id=1, role="worker", name="Anna")


async def _append(engine, count: int) -> None:
    async with database.sessionmaker(engine)() as session, session.begin():
        for i in range(count):
            await audit.record(session, ACTOR, audit.AuditEvent("citizen.view", audit.Purpose.SUPPORT, citizen_id=i))


@pytest.fixture
async def app_engine(database_url):
    """An engine like the app's (SQLite writers serialised with BEGIN IMMEDIATE)."""
    engine = database.create_engine(database_url)
    yield engine
    await engine.dispose()


async def _tampered_report(engine, *statements: str) -> audit.ChainReport:
    """Tamper inside a transaction that is rolled back (a throw-away copy), and verify what it sees."""
    async with database.sessionmaker(engine)() as session:
        await session.begin()
        if engine.dialect.name == "sqlite":
            await session.execute(text("DROP TRIGGER audit_entries_no_update"))
            await session.execute(text("DROP TRIGGER audit_entries_no_delete"))
        else:
            await session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
        for statement in statements:
            await session.execute(text(statement))
        report = await audit.verify_chain(session)
        await session.rollback()
    return report


async def test_a_clean_chain_verifies(app_engine, db):
    await _append(app_engine, 12)
    report = await audit.verify_chain(db)
    assert report.ok and report.checked == 12
    rows = (await db.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars().all()
    assert [r.id for r in rows] == list(range(1, 13))
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, 12))


async def test_the_database_refuses_update_and_delete(app_engine):
    await _append(app_engine, 2)
    for statement in (
        "UPDATE audit_entries SET outcome = 'denied' WHERE id = 1",
        "DELETE FROM audit_entries WHERE id = 2",
    ):
        async with database.sessionmaker(app_engine)() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                async with session.begin():
                    await session.execute(text(statement))


@pytest.mark.parametrize(
    "statements, broken_id, reason",
    [
        (["UPDATE audit_entries SET action = 'citizen.list' WHERE id = 4"], 4, "changed"),
        (["UPDATE audit_entries SET outcome = 'denied' WHERE id = 1"], 1, "changed"),
        (["DELETE FROM audit_entries WHERE id = 5"], 5, "missing"),
        # Reordering: entries 3 and 6 swap places (their ids are swapped).
        (
            [
                "UPDATE audit_entries SET id = 1000 WHERE id = 3",
                "UPDATE audit_entries SET id = 3 WHERE id = 6",
                "UPDATE audit_entries SET id = 6 WHERE id = 1000",
            ],
            3,
            "link",
        ),
        (["DELETE FROM audit_entries WHERE id = 8"], 8, "removed at the end"),
    ],
)
async def test_editing_deleting_or_reordering_one_row_is_detected(app_engine, statements, broken_id, reason):
    await _append(app_engine, 8)
    report = await _tampered_report(app_engine, *statements)
    assert not report.ok
    assert report.first_broken_id == broken_id
    assert reason in report.reason


async def test_concurrent_writers_keep_one_unbroken_chain(app_engine, db):
    await asyncio.gather(*(_append(app_engine, 3) for _ in range(10)))
    report = await audit.verify_chain(db)
    assert report.ok and report.checked == 30


async def test_entries_hold_no_free_text(app_engine, db):
    await _append(app_engine, 1)
    columns = {c.name: c.type for c in AuditEntry.__table__.columns}
    # Only short, closed-vocabulary strings and ids: nowhere to put a note, a token or a password.
    assert all(getattr(t, "length", 0) is None or getattr(t, "length", 0) <= 64 for t in columns.values())


def test_verify_audit_command_reports_the_first_broken_entry_in_a_copy(tmp_path):
    original = tmp_path / "original.db"
    url = f"sqlite+aiosqlite:///{original}"
    env = {"VB_DATABASE_URL": url, "VB_DATA_DIR": str(tmp_path)}
    assert vbostotte_command(env, "migrate")[0] == 0

    async def fill():
        engine = database.create_engine(url)
        await _append(engine, 6)
        await engine.dispose()

    asyncio.new_event_loop().run_until_complete(fill())
    code, printed = vbostotte_command(env, "verify-audit")
    assert code == 0 and "6 entries verified" in printed

    copy = tmp_path / "copy.db"
    shutil.copy(original, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute("UPDATE audit_entries SET citizen_id = 99 WHERE id = 3")
    code, printed = vbostotte_command({**env, "VB_DATABASE_URL": f"sqlite+aiosqlite:///{copy}"}, "verify-audit")
    assert code == 1
    assert "BROKEN at entry 3" in printed


def test_the_canonical_row_hash_is_pinned():
    """The audit log and the consent events share one canonical hash (``audit.row_hash``); every stored hash
    depends on its exact form, so known rows must keep these values (a changed form breaks every chain)."""
    import datetime as dt

    from vbostotte.models import ConsentEvent
    from vbostotte.privacy import consent

    entry = AuditEntry(
        id=7,
        at=dt.datetime(2026, 11, 23, 8, 0, 1, 250000, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        municipality_id=1,
        actor_kind="staff",
        actor_id=3,
        actor_role="worker",
        action="citizen.read",
        citizen_id=5,
        object_type=None,
        object_id=None,
        purpose="support",
        outcome="allowed",
        prev_hash="a" * 64,
    )
    assert audit.entry_hash(entry) == "97437c861790371f80c7277cd682c82e4a425cfc462cc8c5ae65e206efd063dd"
    event = ConsentEvent(
        municipality_id=1,
        seq=2,
        at=dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC),
        citizen_id=5,
        kind_id=4,
        kind_code="relative_in_calls",
        version_id=9,
        version=1,
        text_sha256="b" * 64,
        action="given",
        how="in_person",
        recorded_by_kind="staff",
        recorded_by_id=3,
        prev_hash="0" * 64,
    )
    assert consent.event_hash(event) == "931689d984fbb5927e0f5e7e80896f0f06a0cbc633b4b952ce3f67296302e673"
    # One helper: the same values under the same field names hash alike whichever table they come from.
    assert audit.row_hash(entry, ("id", "at", "prev_hash")) == audit.row_hash(
        type("Row", (), {"id": 7, "at": entry.at.astimezone(dt.UTC), "prev_hash": "a" * 64})(),
        ("id", "at", "prev_hash"),
    )


async def test_a_group_commit_appends_what_record_would(app_engine, db):
    """Deferred entries (read-only pages) appended in one group commit, between entries recorded one by one: one
    unbroken chain, each entry with its own fields and time, in the order given."""
    from vbostotte.audit import group_commit

    await _append(app_engine, 2)
    at = dt.datetime(2026, 12, 1, 9, 30, 0, 250000, tzinfo=dt.UTC)
    citizen = Actor(kind="citizen", id=5, municipality_id=1, role="citizen", name="Jens")
    group = group_commit.GroupCommit(database.sessionmaker(app_engine))
    await asyncio.gather(
        group.append([audit.Deferred(ACTOR, audit.AuditEvent("citizen.list", audit.Purpose.SUPPORT), lambda: at)]),
        group.append(
            [
                audit.Deferred(
                    citizen, audit.AuditEvent("appointment.list", audit.Purpose.SELF_SERVICE, citizen_id=5), lambda: at
                ),
                audit.Deferred(
                    ACTOR,
                    audit.AuditEvent(
                        "citizen.view", audit.Purpose.SUPPORT, audit.DENIED, object_type="citizen", object_id=9
                    ),
                    lambda: at,
                ),
            ]
        ),
    )
    await _append(app_engine, 1)
    report = await audit.verify_chain(db)
    assert report.ok and report.checked == 6
    rows = (await db.execute(select(AuditEntry).where(AuditEntry.id.between(3, 5)).order_by(AuditEntry.id))).scalars()
    assert [(r.actor_kind, r.actor_id, r.action, r.citizen_id, r.object_id, r.outcome, r.at) for r in rows] == [
        ("staff", 7, "citizen.list", None, None, "allowed", at),
        ("citizen", 5, "appointment.list", 5, None, "allowed", at),
        ("staff", 7, "citizen.view", None, 9, "denied", at),
    ]
