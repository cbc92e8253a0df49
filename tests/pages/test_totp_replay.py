"""A TOTP code logs in once (RFC 6238 §5.2): a replayed code, or one of a time step at or before the last one
accepted, is refused with the same generic message as a wrong code and counted for throttling; a step after
it (clock drift: up to one step either side of now) is accepted. Two browsers racing with one code: one wins."""

from __future__ import annotations

import asyncio
import re

import pyotp
import pytest
from sqlalchemy import func, select

from vbostotte.models import LoginFailure, Staff

from support import PASSWORD, reread, text_of

GENERIC = "E-mail, adgangskode eller kode er forkert."  # Danish is the default language
STEP = 30  # seconds of one TOTP time step


def code_at(secret: str, clock, steps: int = 0) -> str:
    """The code an authenticator shows ``steps`` time steps after the app's now."""
    return pyotp.TOTP(secret).at(clock().timestamp() + steps * STEP)


def step_of(clock) -> int:
    return int(clock().timestamp()) // STEP


async def enter_code(browser, staff, code: str):
    """Password, then ``code`` on the code page; the last response."""
    first = await browser.post("/login", {"email": staff.email, "password": PASSWORD})
    assert first.status == 303 and first.headers["Location"] == "/login/code"
    return await browser.post("/login/code", {"code": code})


async def failures(db) -> int:
    await reread(db)
    return (await db.execute(select(func.count()).select_from(LoginFailure))).scalar_one()


async def test_a_code_logs_in_once_and_a_step_at_or_before_the_last_is_refused(web, other_web, world, db):
    worker, clock = world.a.worker, web.clock
    code = code_at(worker.totp_secret, clock)
    assert (await enter_code(web, worker, code)).headers["Location"] == "/"
    await reread(db)
    assert (await db.get(Staff, worker.id)).totp_last_step == step_of(clock)
    # The same code from a second browser within its 30 seconds: the generic message, counted as a failure.
    before = await failures(db)
    replay = await enter_code(other_web, worker, code)
    assert replay.status == 401 and GENERIC in text_of(await replay.text())
    assert (await other_web.get("/worker")).status == 303
    assert await failures(db) == before + 2  # per account and per address, as for a wrong code
    # The previous step's code is within the drift allowance, but before the step already used.
    previous = await enter_code(other_web, worker, code_at(worker.totp_secret, clock, -1))
    assert previous.status == 401 and GENERIC in text_of(await previous.text())
    # The next step's code (a phone a little ahead) is new: accepted once.
    following = code_at(worker.totp_secret, clock, +1)
    assert (await enter_code(other_web, worker, following)).headers["Location"] == "/"
    assert (await other_web.get("/worker")).status == 200
    await web.post("/logout", from_page="/worker")
    third = await enter_code(web, worker, following)
    assert third.status == 401 and GENERIC in text_of(await third.text())
    # Thirty seconds later the code of the (new) current step is still refused: it is the one used last.
    clock.advance(seconds=STEP)
    assert (await enter_code(web, worker, code_at(worker.totp_secret, clock))).status == 401
    clock.advance(seconds=STEP)
    assert (await enter_code(web, worker, code_at(worker.totp_secret, clock))).headers["Location"] == "/"


async def test_enrolment_records_the_step_of_its_code(web, other_web, world, db):
    worker, clock = world.a.worker, web.clock
    staff = await db.get(Staff, worker.id)
    staff.totp_secret = None
    await db.commit()
    response = await web.post("/login", {"email": worker.email, "password": PASSWORD})
    assert response.headers["Location"] == "/login/enrol"
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', await web.page("/login/enrol")).group(1)
    code = code_at(secret, clock)
    assert (await web.post("/login/enrol", {"code": code})).headers["Location"] == "/"
    await reread(db)
    assert (await db.get(Staff, worker.id)).totp_last_step == step_of(clock)
    # The code that confirmed the secret does not also log in another browser.
    replay = await enter_code(other_web, worker, code)
    assert replay.status == 401 and GENERIC in text_of(await replay.text())
    assert (await enter_code(other_web, worker, code_at(secret, clock, +1))).headers["Location"] == "/"


async def test_two_browsers_racing_with_one_code_only_one_logs_in(web, other_web, world):
    worker = world.a.worker
    for browser in (web, other_web):
        first = await browser.post("/login", {"email": worker.email, "password": PASSWORD})
        assert first.headers["Location"] == "/login/code"
    code = code_at(worker.totp_secret, web.clock)
    tokens = [await browser.csrf_from("/login/code") for browser in (web, other_web)]
    results = await asyncio.gather(
        *(
            browser.post("/login/code", {"code": code, "csrf_token": token})
            for browser, token in zip((web, other_web), tokens, strict=True)
        )
    )
    assert sorted(r.status for r in results) == [303, 401]
    assert sorted([(await web.get("/worker")).status, (await other_web.get("/worker")).status]) == [200, 303]


async def test_of_two_transactions_checking_one_code_the_second_waits_and_is_refused(
    database_url, world, settings, clock
):
    """The race in the database itself: the first check holds its row change uncommitted while the second runs."""
    from vbostotte import db as database
    from vbostotte.identity import login

    engine = database.create_engine(database_url)  # as the app's: SQLite writers serialised (BEGIN IMMEDIATE)
    sessions = database.sessionmaker(engine)
    worker = world.a.worker
    code = code_at(worker.totp_secret, clock)

    async def check(session) -> None:
        staff = await session.get(Staff, worker.id)
        await login.check_totp(session, staff, worker.totp_secret, code, "192.0.2.1", settings, clock())

    try:
        async with sessions() as first, first.begin():
            await check(first)

            async def second() -> None:
                async with sessions() as other, other.begin():
                    await check(other)

            racing = asyncio.create_task(second())
            await asyncio.sleep(0.3)  # the second is now waiting for the first's row (or write lock)
            assert not racing.done()
        with pytest.raises(login.InvalidCredentials):
            await racing
    finally:
        await engine.dispose()
