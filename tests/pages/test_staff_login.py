"""Staff login: password + TOTP, enrolment, throttling, no user enumeration, rotation, timeouts, logout."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import func, select

from vbostotte.identity import sessions
from vbostotte.models import AuditEntry, Staff, WebSession

from support import PASSWORD, reread, text_of

GENERIC = "E-mail, adgangskode eller kode er forkert."  # Danish is the default language


async def test_password_then_totp_logs_in_and_shows_the_worker_week(web, world):
    worker = world.a.worker
    first = await web.post("/login", {"email": worker.email, "password": PASSWORD})
    assert first.status == 303 and first.headers["Location"] == "/login/code"
    # The password alone is not a login: staff pages still send the browser to the login page.
    assert (await web.get("/worker")).headers["Location"] == "/login"
    second = await web.post("/login/code", {"code": worker.code(web.clock)})
    assert second.status == 303 and second.headers["Location"] == "/"
    page = text_of(await web.page("/worker"))
    assert "Min uge" in page and world.a.citizen.name in page
    assert world.a.other_citizen.name not in page  # only the worker's own caseload


async def test_wrong_totp_is_refused_with_the_generic_message(web, world):
    response = await web.login(world.a.worker, code="000000")
    assert response.status == 401
    assert GENERIC in text_of(await response.text())
    assert (await web.get("/worker")).status == 303


async def test_first_login_enrols_totp_from_a_qr_code(web, world, db):
    worker = world.a.worker
    staff = await db.get(Staff, worker.id)
    staff.totp_secret = None
    await db.commit()
    response = await web.post("/login", {"email": worker.email, "password": PASSWORD})
    assert response.headers["Location"] == "/login/enrol"
    page = await web.page("/login/enrol")
    assert "<svg" in page  # the QR code, drawn inline: no outside service sees the secret
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    done = await web.post("/login/enrol", {"code": pyotp.TOTP(secret).at(web.clock())})
    assert done.status == 303 and done.headers["Location"] == "/"
    await reread(db)
    assert (await db.get(Staff, worker.id)).totp_secret == secret


async def test_unknown_email_and_wrong_password_look_the_same(web, world):
    wrong_password = await web.post("/login", {"email": world.a.worker.email, "password": "not the password"})
    unknown = await web.post("/login", {"email": "nobody@nowhere.example.dk", "password": "not the password"})
    assert wrong_password.status == unknown.status == 401
    assert text_of(await wrong_password.text()) == text_of(await unknown.text())


async def test_repeated_failures_throttle_the_account_even_with_the_right_password(web, world, settings):
    worker = world.a.worker
    for _ in range(settings.login_max_failures_account):
        assert (await web.post("/login", {"email": worker.email, "password": "wrong"})).status == 401
    blocked = await web.post("/login", {"email": worker.email, "password": PASSWORD})
    assert blocked.status == 429
    assert "For mange forsøg" in text_of(await blocked.text())
    # Another account from the same address is not locked by this one's failures.
    assert (await web.login(world.a.other_worker)).status == 303
    # After the window has passed the right password works again.
    web.clock.advance(minutes=settings.login_window_minutes + 1)
    assert (await web.login(worker)).headers["Location"] == "/"


async def test_wrong_totp_codes_count_towards_the_throttle(web, world, settings):
    worker = world.a.worker
    for _ in range(settings.login_max_failures_account):
        await web.login(worker, code="123456")
    blocked = await web.login(worker)
    assert blocked.status == 429


async def test_many_accounts_from_one_address_are_throttled_per_address(web, world, settings, db):
    for i in range(settings.login_max_failures_ip):
        await web.post("/login", {"email": f"guess{i}@example.dk", "password": "wrong"})
    blocked = await web.post("/login", {"email": world.a.worker.email, "password": PASSWORD})
    assert blocked.status == 429


async def test_login_rotates_the_session_id(web, world):
    await web.post("/login", {"email": world.a.worker.email, "password": PASSWORD})
    pending = web.client.session.cookie_jar.filter_cookies(web.client.make_url("/"))[sessions.COOKIE].value
    await web.post("/login/code", {"code": world.a.worker.code(web.clock)})
    final = web.client.session.cookie_jar.filter_cookies(web.client.make_url("/"))[sessions.COOKIE].value
    assert pending != final


async def test_logout_ends_the_server_side_session(web, world, db):
    await web.login(world.a.worker)
    token = web.client.session.cookie_jar.filter_cookies(web.client.make_url("/"))[sessions.COOKIE].value
    assert await db.get(WebSession, sessions.token_hash(token)) is not None
    response = await web.post("/logout", from_page="/worker")
    assert response.status == 303
    await reread(db)
    assert await db.get(WebSession, sessions.token_hash(token)) is None
    # Replaying the old cookie does not bring the session back.
    web.client.session.cookie_jar.update_cookies({sessions.COOKIE: token})
    assert (await web.get("/worker")).headers["Location"] == "/login"


async def test_idle_and_absolute_timeouts(web, world, settings):
    await web.login(world.a.worker)
    web.clock.advance(minutes=settings.session_idle_minutes - 1)
    assert (await web.get("/worker")).status == 200
    web.clock.advance(minutes=settings.session_idle_minutes + 1)
    assert (await web.get("/worker")).headers["Location"] == "/login"
    await web.login(world.a.worker)
    for _ in range(settings.session_absolute_hours * 60 // (settings.session_idle_minutes - 5) + 1):
        web.clock.advance(minutes=settings.session_idle_minutes - 5)
        response = await web.get("/worker")
        if response.status != 200:
            break
    assert response.headers["Location"] == "/login"


async def test_deactivated_staff_is_signed_out_at_once(web, other_web, world):
    await web.login(world.a.worker)
    await other_web.login(world.a.admin)
    response = await other_web.post(f"/admin/staff/{world.a.worker.id}/active", {"active": "0"}, from_page="/admin")
    assert response.status == 303
    assert (await web.get("/worker")).headers["Location"] == "/login"
    assert (await web.login(world.a.worker)).status == 401


async def test_failed_and_successful_logins_are_audited_without_secrets(web, world, db):
    await web.post("/login", {"email": world.a.worker.email, "password": "wrong-password"})
    await web.login(world.a.worker)
    rows = (await db.execute(select(AuditEntry).where(AuditEntry.action == "auth.login"))).scalars().all()
    assert [r.outcome for r in rows] == ["denied", "allowed"]
    assert rows[1].actor_id == world.a.worker.id
    count = (await db.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    assert count >= 2
