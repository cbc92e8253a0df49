"""Wellbeing check-ins through the pages: the citizen's one-tap answer, the crisis line at the lowest answer, the
worker's dashboard mark, and the consent gate on the worker's view of the trend (withdrawing hides it at once)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from vbostotte import audit
from vbostotte.models import AuditEntry, CheckIn, MunicipalitySettings

from support import read_in_english, reread, text_of

CRISIS = "Psykiatrisk akutmodtagelse: 7011 2233"
NOT_ALARM = "This page is not an alarm service. Nobody is watching your answers live."
CONSENT_MISSING = "Consent is missing"
FLAG = "Follow up: a hard day"


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


@pytest.fixture
async def crisis_line(world, db):
    db.add(
        MunicipalitySettings(
            municipality_id=world.a.id,
            reminder_offsets_minutes="1440",
            confirm_cutoff_minutes=180,
            crisis_line_text=CRISIS,
        )
    )
    await db.commit()


async def check_in(browser, level: str, words: str = ""):
    response = await browser.post("/me/checkins", {"level": level, "words": words}, from_page="/me/wellbeing")
    assert response.status == 303 and response.headers["Location"] == "/me/wellbeing?done=checkin#checkin"
    return text_of(await browser.page("/me/wellbeing?done=checkin"))


async def test_a_check_in_is_one_tap_and_is_confirmed(web, world, db):
    await web.open_link(world.a.citizen.link_token)
    assert 'href="/me/wellbeing"' in await web.page("/me")  # the start page's menu leads to it
    home = await web.page("/me/wellbeing")
    assert "How are you today?" in text_of(home)
    # Five faces, each its own submit button with words (not colour, not only a picture).
    for level, label in (("5", "Very good"), ("3", "So-so"), ("1", "Very bad")):
        assert f'name="level" value="{level}"' in home and label in text_of(home)
    page = await check_in(web, "4")
    assert "Thank you. You answered: Good." in page
    assert NOT_ALARM not in page
    await reread(db)
    [row] = (await db.execute(select(CheckIn))).scalars().all()
    assert (row.citizen_id, row.level, row.words) == (world.a.citizen.id, 4, None)


async def test_the_lowest_answer_shows_the_crisis_line_and_marks_the_citizen_on_the_dashboard(
    web, other_web, world, crisis_line
):
    await web.open_link(world.a.citizen.link_token)
    page = await check_in(web, "1", "Jeg kan ikke mere")
    assert CRISIS in page and NOT_ALARM in page
    assert "Your support worker will see your answer the next time they look at your page" in page

    await other_web.login(world.a.worker)
    dashboard = text_of(await other_web.page("/worker"))
    assert FLAG in dashboard and world.a.citizen.name in dashboard
    assert "This is not an alarm service" in dashboard
    detail = text_of(await other_web.page(f"/citizens/{world.a.citizen.id}"))
    assert "Jeg kan ikke mere" in detail and 'answered "Very bad"' in detail
    response = await other_web.post(
        f"/citizens/{world.a.citizen.id}/checkins/followed-up", from_page=f"/citizens/{world.a.citizen.id}"
    )
    assert response.status == 303
    assert FLAG not in text_of(await other_web.page("/worker"))


async def test_without_consent_the_lowest_answer_still_shows_the_crisis_line_but_marks_nothing(
    web, other_web, world, crisis_line
):
    await web.open_link(world.a.other_citizen.link_token)  # has given no consent
    page = await check_in(web, "1", "Alene")
    assert CRISIS in page and "cannot see your answers" in page
    await other_web.login(world.a.other_worker)
    assert FLAG not in text_of(await other_web.page("/worker"))
    detail = text_of(await other_web.page(f"/citizens/{world.a.other_citizen.id}"))
    assert CONSENT_MISSING in detail and "Alene" not in detail


async def test_the_worker_sees_the_trend_only_with_consent_and_withdrawing_hides_it_at_once(web, other_web, world, db):
    await web.open_link(world.a.citizen.link_token)
    await check_in(web, "3", "Det går")
    await other_web.login(world.a.worker)
    path = f"/citizens/{world.a.citizen.id}"
    html = await other_web.page(path)
    detail = text_of(html)
    assert "Wellbeing and day plan" in detail and "Det går" in detail and CONSENT_MISSING not in detail
    assert '<svg class="trend-chart"' in html and "Days with a check-in: 1, on average 3.0 of 5." in detail

    withdrawn = await web.post(
        "/me/consents", {"kind": "worker_sees_checkins", "action": "withdraw"}, from_page="/me/consents"
    )
    assert withdrawn.status == 303
    html = await other_web.page(path)
    assert CONSENT_MISSING in text_of(html) and "Det går" not in html and "trend-chart" not in html

    await reread(db)
    reads = (await db.execute(select(AuditEntry).where(AuditEntry.action == "checkin.view"))).scalars().all()
    assert [(e.actor_id, e.citizen_id, e.purpose) for e in reads] == [
        (world.a.worker.id, world.a.citizen.id, audit.Purpose.WELLBEING_FOLLOW_UP)
    ]  # the allowed read only


async def test_a_supervisor_sees_no_check_ins(web, other_web, world):
    await web.open_link(world.a.citizen.link_token)
    await check_in(web, "2", "Træt i dag")
    await other_web.login(world.a.supervisor)
    html = await other_web.page(f"/citizens/{world.a.citizen.id}")
    assert "Træt i dag" not in html and "Wellbeing and day plan" not in html


async def test_only_a_citizen_checks_in(web, world, db):
    await web.login(world.a.worker)
    response = await web.post("/me/checkins", {"level": "3"}, from_page="/worker")
    assert response.status == 403
    await reread(db)
    assert (await db.execute(select(CheckIn))).first() is None
