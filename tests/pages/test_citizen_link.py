"""Citizens' personal links: opening one signs this device in; a revoked, replaced or unknown link does not."""

from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import func, select, text

from vbostotte.identity import sessions
from vbostotte.models import AuditEntry, Base, PersonalLink, WebSession

from support import read_in_english, reread, text_of, video_call_soon

DOES_NOT_WORK = "This link does not work any more"


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


def citizen_page(citizen) -> str:
    return f"/citizens/{citizen.id}"


async def issue_new_link(browser, citizen) -> str:
    """The worker clicks "Issue a new link" and reads the link off the page (shown once)."""
    response = await browser.post(f"/citizens/{citizen.id}/link", from_page=citizen_page(citizen))
    assert response.status == 200
    return re.search(r'<code class="link-out">[^<]*/l/([^<]+)</code>', await response.text()).group(1)


async def test_the_link_signs_in_and_shows_the_citizens_own_appointments(web, world, db):
    citizen = world.a.citizen
    response = await web.open_link(citizen.link_token)
    assert response.status == 303
    assert response.headers["Location"] == "/me"  # the token leaves the address bar (and the history)
    page = text_of(await web.page("/me"))
    assert f"Hello {citizen.preferred_name}" in page
    assert f"Agenda for {citizen.name}" in page
    assert world.a.other_citizen.name not in page and world.b.citizen.name not in page
    opened = (await db.execute(select(AuditEntry).where(AuditEntry.action == "link.open"))).scalar_one()
    assert (opened.citizen_id, opened.outcome) == (citizen.id, "allowed")


async def test_while_a_call_of_hers_is_open_the_link_goes_straight_to_it(web, world, db, clock):
    """One tap from the link to the waiting room: the call page (its check and Join) is the welcome, and it links
    back to her page. Before the call opens, and with two calls open at once, the link goes to her start page."""
    appointment = await video_call_soon(db, world, clock)
    response = await web.open_link(world.a.citizen.link_token)
    assert response.headers["Location"] == f"/calls/{appointment}"
    call_page = await web.get(f"/calls/{appointment}")
    assert 'href="/me"' in await call_page.text()
    clock.advance(days=-1)  # the day before, the call is not open yet
    assert (await web.open_link(world.a.citizen.link_token)).headers["Location"] == "/me"
    clock.advance(days=1, minutes=46)  # the first has ended (its call is still open), the next starts in 5 minutes
    await video_call_soon(db, world, clock)  # two calls open at the same time: she chooses on her page
    assert (await web.open_link(world.a.citizen.link_token)).headers["Location"] == "/me"


async def test_the_session_cookie_is_httponly_and_samesite_lax(web, world):
    response = await web.open_link(world.a.citizen.link_token)
    cookie = response.cookies[sessions.COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"


async def test_a_revoked_link_does_not_sign_in_and_its_device_is_signed_out_at_once(web, other_web, world, db):
    citizen = world.a.citizen
    await web.open_link(citizen.link_token)
    assert (await web.get("/me")).status == 200

    await other_web.login(world.a.worker)
    revoked = await other_web.post(f"/citizens/{citizen.id}/link/revoke", from_page=citizen_page(citizen))
    assert revoked.status == 303
    worker_sees = text_of(await other_web.page(revoked.headers["Location"]))
    assert "The personal link was revoked" in worker_sees
    assert "The citizen has no working personal link." in worker_sees

    assert (await web.get("/me")).headers["Location"] == "/login"  # the phone that had it is signed out
    await reread(db)
    assert (
        await db.execute(select(func.count()).select_from(WebSession).where(WebSession.citizen_id == citizen.id))
    ).scalar_one() == 0
    again = await web.open_link(citizen.link_token)
    assert again.status == 404
    assert DOES_NOT_WORK in text_of(await again.text())
    assert sessions.COOKIE not in again.cookies
    assert (await web.get("/me")).status == 303


async def test_reissuing_gives_a_new_link_that_works_and_the_old_one_does_not(web, other_web, world):
    citizen = world.a.citizen
    await web.open_link(citizen.link_token)
    await other_web.login(world.a.worker)
    new_token = await issue_new_link(other_web, citizen)
    assert new_token != citizen.link_token
    # The new link is shown once: the citizen page does not show it again.
    assert new_token not in await other_web.page(citizen_page(citizen))
    # Issuing a new link retires the old one, and the device that used it.
    assert (await web.get("/me")).headers["Location"] == "/login"
    old = await web.open_link(citizen.link_token)
    assert old.status == 404 and DOES_NOT_WORK in text_of(await old.text())
    new = await web.open_link(new_token)
    assert new.headers["Location"] == "/me"
    assert f"Agenda for {citizen.name}" in text_of(await web.page("/me"))


@pytest.mark.parametrize(
    "token",
    [
        secrets.token_urlsafe(32),  # well formed, but nobody was given it
        "abc",  # too short
        "a" * 5000,  # too long
        "%00%FF%3Cscript%3Ealert(1)%3C%2Fscript%3E",  # garbage: NUL, a byte that is no UTF-8, markup
        "..%2F..%2Fetc%2Fpasswd",
        "æøå" * 10,
    ],
    ids=["unknown", "too-short", "too-long", "garbage", "path", "non-ascii"],
)
async def test_an_invalid_link_shows_the_invalid_link_page_and_signs_nobody_in(web, world, db, token):
    audit_before = (await db.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    response = await web.open_link(token)
    assert response.status == 404
    body = await response.text()
    assert DOES_NOT_WORK in text_of(body)
    assert "<script>alert" not in body
    assert sessions.COOKIE not in response.cookies
    assert (await web.get("/me")).headers["Location"] == "/login"
    await reread(db)
    assert (await db.execute(select(func.count()).select_from(WebSession))).scalar_one() == 0
    assert (await db.execute(select(func.count()).select_from(AuditEntry))).scalar_one() == audit_before
    assert (await db.execute(select(PersonalLink).where(PersonalLink.last_used_at.is_not(None)))).first() is None


async def test_the_database_never_holds_a_link_in_clear(web, other_web, world, db):
    citizen = world.a.citizen
    await web.open_link(citizen.link_token)
    await other_web.login(world.a.worker)
    new_token = await issue_new_link(other_web, citizen)
    await web.open_link(new_token)
    await reread(db)
    links = (
        (await db.execute(select(PersonalLink).where(PersonalLink.citizen_id == citizen.id).order_by(PersonalLink.id)))
        .scalars()
        .all()
    )
    assert [link.token_hash for link in links] == [
        sessions.token_hash(citizen.link_token),
        sessions.token_hash(new_token),
    ]
    # Neither token appears anywhere: not in the links, the sessions, the audit log or any other table.
    for table in Base.metadata.sorted_tables:
        rows = (await db.execute(text(f"SELECT * FROM {table.name}"))).all()
        assert rows or table.name != "personal_links"
        for row in rows:
            assert citizen.link_token not in repr(row) and new_token not in repr(row), table.name
