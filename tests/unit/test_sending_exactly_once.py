"""Each message is sent once: by two senders at once, and by a sender killed mid-batch and started again
(a real `vbostotte outbox-worker` process, SIGKILLed while a real SMTP server is receiving)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import os
import random
import signal
import subprocess
import sys
from collections import Counter

from sqlalchemy import func, select

from vbostotte import db as database
from vbostotte.app import utcnow
from vbostotte.models import (
    Appointment,
    AppointmentKind,
    Citizen,
    MunicipalitySettings,
    OutboxMessage,
    Staff,
    StaffRole,
)
from vbostotte.privacy import consent
from vbostotte.reminders import channels, outbox, sender

from mail_and_sms import MailServer

N = 40
KILL_AT = (N // 3, 2 * N // 3)  # kill the sender when this many messages have arrived, then start it again
LEASE_SECONDS = 2


async def plan_due_reminders(db, world, count: int, now: dt.datetime) -> None:
    """``count`` appointments in the coming hours, each with one e-mail reminder due now (a week's notice,
    planned eight days ago), for a worker of their own so no other appointment is in the way."""
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
        email="kill-test@aarhus.example.dk",
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


async def expected_message_ids(engine) -> set[str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(OutboxMessage.id, OutboxMessage.dedupe_key))).all()
    return {f"<outbox-{id_}.{hashlib.sha256(key.encode()).hexdigest()[:16]}@127.0.0.1>" for id_, key in rows}


async def statuses(engine) -> Counter:
    async with engine.connect() as conn:
        rows = await conn.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return Counter(dict(rows.all()))


async def test_two_senders_at_once_never_send_a_message_twice(world, db, engine, settings, clock, database_url):
    clock.now = utcnow()
    await plan_due_reminders(db, world, N, clock())
    with MailServer(delay=0.005) as mail:
        mail_settings = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=mail.port)
        engines = [database.create_engine(database_url) for _ in range(2)]  # two connections, like two processes

        async def sender_loop(own_engine) -> int:
            sent = 0
            async with channels.open_channels(mail_settings) as open_channels:
                while True:
                    counts = await sender.run_once(
                        database.sessionmaker(own_engine), mail_settings, clock, open_channels, limit=5
                    )
                    sent += counts["sent"]
                    if not counts["claimed"]:
                        return sent

        try:
            async with asyncio.timeout(15):
                sent_by = await asyncio.gather(*(sender_loop(e) for e in engines))
        finally:
            for own_engine in engines:
                await own_engine.dispose()
    assert sum(sent_by) == N and all(sent_by), sent_by  # both took part
    assert len(mail.message_ids) == N and set(mail.message_ids) == await expected_message_ids(engine)
    assert await statuses(engine) == {"sent": N}


def start_worker(env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "vbostotte", "outbox-worker", "--lease", str(LEASE_SECONDS), "--poll", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def wait_for(condition, what: str, worker: subprocess.Popen, log_path, timeout: float = 15) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await condition():
                if worker.poll() is not None:
                    raise AssertionError(
                        f"the sender exited ({worker.returncode}) before {what}:\n" + log_path.read_text()
                    )
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}; the sender's log:\n" + log_path.read_text()) from None


async def test_a_sender_killed_mid_batch_and_started_again_sends_every_reminder(
    world, db, engine, database_url, tmp_path
):
    await plan_due_reminders(db, world, N, utcnow())
    log_path = tmp_path / "worker.log"
    # The server stores each message, then answers 20 ms later: a kill in that pause loses the answer, and the
    # message is sent again (the one window of the exactly-once argument, docs/reminders.md).
    with MailServer(delay=0.02) as mail, log_path.open("w") as log:
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
        arrived_at_kill = []
        for threshold in KILL_AT:
            worker = start_worker(env, log)
            try:

                async def arrived(threshold=threshold):
                    return len(mail.received) >= threshold

                await wait_for(arrived, f"{threshold} messages", worker, log_path)
                # Somewhere in the next message's round: before, during or after its send and its commit.
                await asyncio.sleep(random.uniform(0, 0.04))
            finally:
                worker.kill()  # SIGKILL: no clean-up of any kind
                worker.wait(timeout=5)
            arrived_at_kill.append(len(mail.received))
        worker = start_worker(env, log)
        try:

            async def all_sent():
                return (await statuses(engine))["sent"] == N

            await wait_for(all_sent, f"all {N} sent", worker, log_path)
        finally:
            worker.send_signal(signal.SIGTERM)  # a polite stop ends the loop between messages
            exit_code = worker.wait(timeout=10)
    assert exit_code == 0, log_path.read_text()

    received = mail.message_ids
    duplicates = len(received) - len(set(received))
    print(
        f"\nkill test: {N} reminders, killed after {arrived_at_kill} had arrived, "
        f"{len(received)} deliveries, {duplicates} duplicate(s)"
    )
    assert set(received) == await expected_message_ids(engine)  # every reminder arrived
    assert await statuses(engine) == {"sent": N}  # and is recorded sent exactly once
    assert duplicates <= len(KILL_AT)  # a resend only for a message in flight at a kill
    assert max(Counter(received).values()) <= 2  # never more than one resend of one message


def test_the_outbox_worker_without_a_channel_says_what_to_set(settings):
    env = {
        **os.environ,
        "VB_DATABASE_URL": settings.database_url,
        "VB_DATA_DIR": str(settings.data_dir),
        "VB_SMTP_HOST": "",
        "VB_SMS_GATEWAY_URL": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "vbostotte", "outbox-worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "VB_SMTP_HOST" in result.stderr
