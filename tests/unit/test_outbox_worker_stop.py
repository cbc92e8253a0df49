"""A stopped outbox worker hands its batch back: on SIGTERM a real `vbostotte outbox-worker` finishes the message
it is sending and returns the messages it had claimed but not tried to 'pending', without counting an attempt, so
the next sender takes them at once (not when the lease runs out, and not one attempt nearer to giving up)."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

from sqlalchemy import func, select

from vbostotte.app import utcnow
from vbostotte.models import OutboxMessage, OutboxStatus

from mail_and_sms import MailServer
from support import outbox_worker_env, plan_due_reminders, start_outbox_worker

N = 30  # more than one batch (sender.BATCH = 20)
LEASE_SECONDS = 600  # long: a message left 'sending' would stay stuck for the whole test


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
        worker = start_outbox_worker(outbox_worker_env(database_url, tmp_path, mail.port), log, LEASE_SECONDS)
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
