"""A stopped outbox worker hands its batch back: on SIGTERM a real `vbostotte outbox-worker` finishes the message
it is sending and returns the messages it had claimed but not tried to 'pending', without counting an attempt, so
the next sender takes them at once (not when the lease runs out, and not one attempt nearer to giving up)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter

from sqlalchemy import func, select

from vbostotte.app import utcnow
from vbostotte.models import (
    Appointment,
    AppointmentKind,
    Citizen,
    MunicipalitySettings,
    OutboxMessage,
    OutboxStatus,
    Staff,
    StaffRole,
)
from vbostotte.privacy import consent
from vbostotte.reminders import outbox

from mail_and_sms import MailServer

N = 30  # more than one batch (sender.BATCH = 20)
LEASE_SECONDS = 600  # long: a message left 'sending' would stay stuck for the whole test


async def plan_due_reminders(db, world, count: int, now) -> None:
    """``count`` appointments in the coming hours, each with one e-mail reminder due now (a week's notice,
    planned eight days ago), for a worker of their own (as in test_sending_exactly_once.py)."""
    municipality = world.a.id
    await db.merge(
        MunicipalitySettings(
            municipality_id=municipality,
            reminder_offsets_minutes="10080",
            confirm_cutoff_minutes=180,
            crisis_line_text="",
        )
    )
    await consent.withdraw(db, world.a.worker.actor, world.a.citizen.id, consent.Kind.SMS_REMINDERS, "phone", now)
    (await db.get(Citizen, world.a.citizen.id)).email = "borger@example.dk"
    worker = Staff(
        municipality_id=municipality,
        email="stop-test@aarhus.example.dk",
        name="Kim Test",
        role=StaffRole.WORKER,
        password_hash="-",
        active=True,
        created_at=now,
    )
    db.add(worker)
    await db.flush()
    first = now.replace(second=0, microsecond=0) + dt.timedelta(hours=2)
    for i in range(count):
        starts = first + dt.timedelta(minutes=30 * i)
        appointment = Appointment(
            municipality_id=municipality,
            citizen_id=world.a.citizen.id,
            worker_id=worker.id,
            kind=AppointmentKind.VIDEO,
            starts_at=starts,
            ends_at=starts + dt.timedelta(minutes=15),
            created_at=now,
            response="none",
        )
        db.add(appointment)
        await db.flush()
        await outbox.plan_for_appointment(db, appointment, now - dt.timedelta(days=8))
    await db.commit()


async def rows(engine) -> list[tuple[str, int, object]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.lease_until))
        return [(str(status), attempts, lease) for status, attempts, lease in result.all()]


async def test_sigterm_hands_back_the_claimed_unsent_messages_without_counting_an_attempt(
    world, db, engine, database_url, tmp_path
):
    await plan_due_reminders(db, world, N, utcnow())
    log_path = tmp_path / "worker.log"
    with MailServer(delay=0.15) as mail, log_path.open("w") as log:
        env = {
            **os.environ,
            "VB_DATABASE_URL": database_url,
            "VB_DATA_DIR": str(tmp_path),
            "VB_LOG_LEVEL": "INFO",
            "VB_SMTP_HOST": "127.0.0.1",
            "VB_SMTP_PORT": str(mail.port),
            "VB_SMS_GATEWAY_URL": "",
            "VB_BASE_URL": "http://127.0.0.1",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "vbostotte", "outbox-worker", "--lease", str(LEASE_SECONDS), "--poll", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(30):
                while len(mail.received) < 3:
                    assert worker.poll() is None, log_path.read_text()
                    await asyncio.sleep(0.01)
            worker.send_signal(signal.SIGTERM)  # mid-batch: one message in flight, more claimed behind it
            exit_code = await asyncio.to_thread(worker.wait, 20)
        finally:
            if worker.poll() is None:
                worker.kill()
    assert exit_code == 0, log_path.read_text()
    after = await rows(engine)
    by_status = Counter(status for status, _, _ in after)
    assert by_status[OutboxStatus.SENDING] == 0, (by_status, log_path.read_text())
    assert by_status[OutboxStatus.SENT] == len(mail.received)  # the one in flight was finished and recorded
    unsent = [(attempts, lease) for status, attempts, lease in after if status == OutboxStatus.PENDING]
    assert len(unsent) == N - len(mail.received)
    assert all(attempts == 0 and lease is None for attempts, lease in unsent)  # handed back, no attempt counted
    assert "handed back unsent" in log_path.read_text()
    async with engine.connect() as conn:  # due as before: the next sender takes them now
        due = await conn.scalar(
            select(func.count()).where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= utcnow()
            )
        )
    assert due == len(unsent)
