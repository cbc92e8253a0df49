"""`vbostotte backup` (SQLite online backup; pg_dump on PostgreSQL) and `vbostotte retention` (old rows deleted per
kind, the audit log untouched, the run itself audit-logged)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from vbostotte import audit
from vbostotte.models import AuditEntry, CallEvent, CallTicket, LoginFailure, OutboxMessage, WebSession
from vbostotte.operations import backup
from vbostotte.privacy import retention

from support import reread


async def vbostotte(database_url: str, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    """Run the real command in its own process."""
    env = {**os.environ, "VB_DATABASE_URL": database_url, "VB_DATA_DIR": str(tmp_path)}
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "vbostotte", *argv], env=env, capture_output=True, text=True, timeout=120
    )


async def test_backup_of_sqlite_is_a_consistent_copy_with_the_data(world, database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite backup runs in the SQLite pass")
    target = tmp_path / "backup.db"
    done = await vbostotte(database_url, tmp_path, "backup", str(target))
    assert done.returncode == 0 and "SQLite backup written to" in done.stdout, done.stderr
    copy = sqlite3.connect(target)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM citizens").fetchone()[0] == 4
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    # A second backup never overwrites the first.
    again = await vbostotte(database_url, tmp_path, "backup", str(target))
    assert again.returncode == 2 and "exists already" in again.stderr


async def test_backup_of_postgresql_runs_pg_dump_without_the_password_on_its_command_line(
    world, database_url, tmp_path
):
    command = backup.pg_dump_command("postgresql+asyncpg://vb:s3cret@db.internal:5433/vbostotte", tmp_path / "x")
    assert command.argv == [
        "pg_dump",
        "--format=custom",
        "--no-owner",
        f"--file={tmp_path / 'x'}",
        "postgresql://vb@db.internal:5433/vbostotte",
    ]
    assert command.env == {"PGPASSWORD": "s3cret"} and "s3cret" not in command.shown
    if database_url.startswith("sqlite"):
        return  # the real pg_dump runs in the PostgreSQL pass
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump (postgresql-client) is needed in the PostgreSQL pass")
    target = tmp_path / "backup.dump"
    done = await vbostotte(database_url, tmp_path, "backup", str(target))
    assert done.returncode == 0 and "PostgreSQL backup written to" in done.stdout, done.stderr
    listing = subprocess.run(["pg_restore", "--list", str(target)], capture_output=True, text=True, check=True).stdout
    assert "TABLE DATA public citizens" in listing and "TABLE DATA public audit_entries" in listing


async def test_retention_deletes_only_what_is_past_its_time_and_is_audited(world, db, engine, settings, clock):
    now = clock()
    old, recent = now - dt.timedelta(days=500), now - dt.timedelta(days=2)
    appointment = world.a.citizen.past_appointment_id
    for at in (old, recent):
        db.add(
            CallEvent(
                appointment_id=appointment, at=at, participant="citizen-1", role="guest", event="joined", details={}
            )
        )
        db.add(LoginFailure(scope="ip", key="0" * 64, at=at))
        db.add(
            CallTicket(
                token_hash=f"{at.timestamp():064.0f}"[-64:],
                appointment_id=appointment,
                principal_kind="citizen",
                principal_id=world.a.citizen.id,
                expires_at=at,
            )
        )
        db.add(
            WebSession(
                id_hash=f"{at.timestamp():064.0f}"[-64:],
                citizen_id=world.a.citizen.id,
                created_at=at,
                last_seen_at=at,
                expires_at=at,
            )
        )
        for status in ("sent", "pending"):
            db.add(
                OutboxMessage(
                    municipality_id=world.a.id,
                    purpose="reminder",
                    channel="email",
                    recipient_kind="citizen",
                    dedupe_key=f"{status}-{at.isoformat()}",
                    due_at=at,
                    status=status,
                    attempts=1,
                    next_attempt_at=at,
                    created_at=at,
                    sent_at=at if status == "sent" else None,
                )
            )
    await db.commit()
    audit_before = (await db.execute(select(func.count()).select_from(AuditEntry))).scalar_one()

    deleted = await retention.run(db, settings, now)
    await db.commit()
    assert deleted == {"call_events": 1, "outbox": 1, "login_failures": 1, "sessions": 1, "call_tickets": 1}
    await reread(db)
    for model in (CallEvent, LoginFailure, CallTicket):
        assert (await db.execute(select(func.count()).select_from(model))).scalar_one() == 1, model
    remaining = (await db.execute(select(OutboxMessage.status, OutboxMessage.due_at))).all()
    assert sorted(s for s, _ in remaining) == ["pending", "pending", "sent"]  # an unsent row is never deleted
    entries = (await db.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars().all()
    assert len(entries) == audit_before + 1  # nothing of the audit log deleted, one entry for the run
    assert (entries[-1].action, entries[-1].actor_kind) == ("retention.run", "system")
    assert (await audit.verify_chain(db)).ok


async def test_retention_from_the_command_line_reports_per_kind(world, database_url, tmp_path):
    done = await vbostotte(database_url, tmp_path, "retention")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for kind in ("call_events", "outbox", "login_failures", "sessions", "call_tickets", "audit log"):
        assert kind in out
