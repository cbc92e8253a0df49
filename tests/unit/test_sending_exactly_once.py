"""Each message is sent once: by two senders at once, and by a sender killed mid-batch and started again
(a real `vbostotte outbox-worker` process, SIGKILLed while a real SMTP server is receiving)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
import signal
import subprocess
from collections import Counter

from sqlalchemy import func, select

from vbostotte import db as database
from vbostotte.app import utcnow
from vbostotte.models import OutboxMessage
from vbostotte.reminders import channels, sender

from mail_and_sms import MailServer
from support import outbox_worker_env, plan_due_reminders, start_outbox_worker, vbostotte_command

N = 40
KILL_AT = (N // 3, 2 * N // 3)  # kill the sender when this many messages have arrived, then start it again
LEASE_SECONDS = 2


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
        env = outbox_worker_env(database_url, tmp_path, mail.port)
        arrived_at_kill = []
        for threshold in KILL_AT:
            worker = start_outbox_worker(env, log, LEASE_SECONDS)
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
        worker = start_outbox_worker(env, log, LEASE_SECONDS)
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
        "VB_DATABASE_URL": settings.database_url,
        "VB_DATA_DIR": str(settings.data_dir),
        "VB_SMTP_HOST": "",
        "VB_SMS_GATEWAY_URL": "",
    }
    code, printed = vbostotte_command(env, "outbox-worker")
    assert code == 2 and "VB_SMTP_HOST" in printed
