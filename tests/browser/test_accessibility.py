"""Every page passes axe-core's WCAG 2.0/2.1 A and AA rules, at desktop width and on a 360 px phone."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from vbostotte.models import Staff

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


# How a person reaches each page. Each gets the test's page, world, log_in, enter_password and db.


async def login(page, **_):
    await page.goto("/login")


async def login_code(page, world, enter_password, **_):
    await enter_password(world.a.worker)
    await expect(page).to_have_url(re.compile(r"/login/code$"))


async def login_enrol(page, world, enter_password, db, **_):
    staff = await db.get(Staff, world.a.worker.id)
    staff.totp_secret = None  # a first login: no authenticator app set up yet
    await db.commit()
    await enter_password(world.a.worker)
    await expect(page).to_have_url(re.compile(r"/login/enrol$"))


async def worker_home(page, world, log_in, **_):
    await log_in(world.a.worker)
    await expect(page).to_have_url(re.compile(r"/worker$"))


async def new_citizen_form(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto("/citizens/new")


async def new_citizen_form_with_errors(page, world, log_in, **_):
    await new_citizen_form(page, world=world, log_in=log_in)
    await page.locator("main button[type=submit]").click()
    summary = page.locator(".error-summary")
    await expect(summary.get_by_role("heading")).to_have_text(re.compile(r"\w"))
    # Each message in the summary names its field and leads to it.
    await expect(summary.get_by_role("link")).to_have_count(2)
    first, second = await summary.get_by_role("link").all_inner_texts()
    assert first != second
    await expect(page.locator("main [aria-invalid=true]")).to_have_count(2)


async def citizen_detail(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto(f"/citizens/{world.a.citizen.id}")


async def citizen_detail_with_new_link(page, world, log_in, **_):
    await citizen_detail(page, world=world, log_in=log_in)
    await page.locator("main form[action$='/link'] button").click()
    await expect(page.locator("main code.link-out")).to_contain_text("/l/")


async def supervisor_home(page, world, log_in, **_):
    await log_in(world.a.supervisor)
    await expect(page).to_have_url(re.compile(r"/supervisor$"))


async def admin_home(page, world, log_in, **_):
    await log_in(world.a.admin)
    await expect(page).to_have_url(re.compile(r"/admin$"))


async def admin_new_staff_form(page, world, log_in, **_):
    await log_in(world.a.admin)
    await page.goto("/admin/staff/new")


async def booking_form(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto(f"/appointments/new?citizen_id={world.a.citizen.id}")


async def booking_form_with_errors(page, world, log_in, **_):
    await booking_form(page, world=world, log_in=log_in)
    await page.locator("main form button[type=submit]").click()
    await expect(page.locator(".error-summary")).to_be_visible()


async def appointment_page(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto(f"/appointments/{world.a.citizen.appointment_id}")


async def past_appointment_page(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto(f"/appointments/{world.a.citizen.past_appointment_id}")
    await expect(page.locator("main input[name=attendance]").first).to_be_visible()


async def working_hours(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto("/worker/hours")


async def working_hours_with_new_feed_address(page, world, log_in, **_):
    await working_hours(page, world=world, log_in=log_in)
    await page.locator("main form[action$='/calendar-feed'] button").click()
    await expect(page.locator("main code.link-out")).to_contain_text("/calendar/")


async def citizen_home(page, world, **_):
    await page.goto(f"/l/{world.a.citizen.link_token}")
    await expect(page).to_have_url(re.compile(r"/me$"))


async def absences_page(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto("/worker/absences")


async def admin_settings_page(page, world, log_in, **_):
    await log_in(world.a.admin)
    await page.goto("/admin/settings")


async def citizen_home_with_message_hours_and_crisis_line(page, world, db, **_):
    from vbostotte.models import MunicipalitySettings, WorkingHours

    db.add(WorkingHours(staff_id=world.a.worker.id, kind="messages", weekday=2, start_minute=540, end_minute=600))
    db.add(
        MunicipalitySettings(
            municipality_id=world.a.id,
            reminder_offsets_minutes="1440",
            confirm_cutoff_minutes=180,
            crisis_line_text="Psykiatrisk akutmodtagelse: 7011 2233",
        )
    )
    await db.commit()
    await citizen_home(page, world=world)
    await expect(page.locator(".crisis")).to_be_visible()  # nobody answers messages now: the start page says so


async def citizens_contact_page(page, world, db, **_):
    await citizen_home_with_message_hours_and_crisis_line(page, world=world, db=db)
    await page.get_by_role("link", name="Hvornår kan jeg skrive?").click()
    await expect(page).to_have_url(re.compile(r"/me/contact$"))
    await expect(page.locator("main .contacts")).to_contain_text("onsdag 09.00–10.00")
    await expect(page.locator("main .crisis")).to_be_visible()


async def invalid_link(page, **_):
    await page.goto("/l/this-link-was-revoked-0123456789")


async def not_found(page, **_):
    response = await page.goto("/no/such/page")
    assert response.status == 404


async def note_draft_page(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto(f"/notes/{world.a.note_id}")
    await expect(page.locator("main textarea[name=talked_about]")).to_be_visible()


async def note_sign_refused_page(page, world, log_in, **_):
    await note_draft_page(page, world=world, log_in=log_in)
    await page.locator("main textarea[name=talked_about]").fill("")
    await page.locator("main button[formaction$='/sign']").click()
    await expect(page.locator(".error-summary")).to_be_visible()


async def signed_note_page(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto(f"/notes/{world.a.signed_note_id}")
    await expect(page.locator("main form[action$='/amend']")).to_be_visible()


async def goal_page(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto(f"/goals/{world.a.goal_id}")


async def citizens_goals_page(page, world, **_):
    await citizen_home(page, world=world)
    await page.goto("/me/goals")
    await expect(page.locator(f"#goal-{world.a.goal_id}")).to_be_visible()


async def citizens_notes_page_with_a_shared_note(page, world, db, **_):
    from vbostotte.models import Note

    (await db.get(Note, world.a.signed_note_id)).shared_with_citizen = True
    await db.commit()
    await citizen_home(page, world=world)
    await page.goto("/me/notes")
    await expect(page.locator(".shared-note")).to_be_visible()


async def citizens_appointments_page(page, world, **_):
    await citizen_home(page, world=world)
    await page.goto("/me/appointments")
    await expect(page.locator("main .appointment")).to_have_count(1)


async def citizens_consents_after_withdrawing_one(page, world, **_):
    await citizen_home(page, world=world)
    await page.goto("/me/consents")
    await page.locator("main form[action='/me/consents'] button[value=withdraw]").first.click()
    await expect(page.locator("main form[action='/me/consents'] button[value=give]")).to_have_count(1)


async def worker_home_with_missing_consents(page, world, log_in, **_):
    await log_in(world.a.other_worker)
    await expect(page.locator("main .consent-missing")).to_be_visible()


async def admin_consents_page(page, world, log_in, **_):
    await log_in(world.a.admin)
    await page.goto("/admin/consents")


async def admin_consents_with_errors(page, world, log_in, **_):
    await admin_consents_page(page, world=world, log_in=log_in)
    await page.locator("main form button[type=submit]").click()
    await expect(page.locator(".error-summary")).to_be_visible()


async def admin_consent_kind_page(page, world, log_in, **_):
    await log_in(world.a.admin)
    await page.goto(f"/admin/consents/{world.a.consent_kind_id}")


async def appointment_page_without_video_consent(page, world, log_in, db, **_):
    import datetime as dt

    from vbostotte.privacy import consent

    await consent.withdraw(
        db, world.a.worker.actor, world.a.citizen.id, consent.Kind.VIDEO, "phone", dt.datetime.now(dt.UTC)
    )
    await db.commit()
    await log_in(world.a.worker)
    await page.goto(f"/appointments/{world.a.citizen.appointment_id}")
    await expect(page.locator("main .warning")).to_be_visible()


async def _days_of_check_ins(db, world):
    """Three weeks of the citizen's check-ins and day grades, the last one at the lowest level."""
    import datetime as dt

    from vbostotte.models import CheckIn, DayGrade

    now = dt.datetime(2026, 11, 23, 7, tzinfo=dt.UTC)
    for n in range(0, 21, 2):
        at = now - dt.timedelta(days=n)
        db.add(
            CheckIn(
                municipality_id=world.a.id,
                citizen_id=world.a.citizen.id,
                level=1 if n == 0 else 2 + n % 4,
                words="Svær dag" if n == 0 else None,
                day=at.date(),
                at=at,
            )
        )
        db.add(
            DayGrade(citizen_id=world.a.citizen.id, day=at.date(), municipality_id=world.a.id, grade=1 + n % 5, at=at)
        )
    await db.commit()


async def citizens_check_in_after_the_lowest_answer(page, world, db, **_):
    await citizen_home_with_message_hours_and_crisis_line(page, world=world, db=db)
    await page.goto("/me/wellbeing")
    await page.locator("#checkin button[value='1']").click()
    await expect(page.locator("#checkin .crisis")).to_be_visible()


async def citizens_day_plan_ticked_and_graded(page, world, **_):
    await citizen_home(page, world=world)
    await page.goto("/me/day")
    await page.locator("#day-plan form[action$='/done'] button").first.click()
    await page.locator("#day-grade button[value='4']").click()
    await expect(page.locator("#day-grade [aria-pressed=true]")).to_be_visible()


async def citizens_own_data(page, world, **_):
    await citizen_home(page, world=world)
    await page.goto("/me/data")


async def worker_home_with_a_hard_day_to_follow_up(page, world, log_in, db, **_):
    await _days_of_check_ins(db, world)
    await log_in(world.a.worker)
    await expect(page.locator(".attention")).to_be_visible()


async def citizen_detail_with_the_wellbeing_trend(page, world, log_in, db, **_):
    await _days_of_check_ins(db, world)
    await citizen_detail(page, world=world, log_in=log_in)
    await expect(page.locator("svg.trend-chart")).to_be_visible()


async def citizen_detail_without_check_in_consent(page, world, log_in, **_):
    await log_in(world.a.other_worker)
    await page.goto(f"/citizens/{world.a.other_citizen.id}")
    await expect(page.locator(".consent-missing")).to_be_visible()


async def citizens_data_by_their_worker(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto(f"/citizens/{world.a.citizen.id}/data")


async def citizens_summary_for_the_caseworker(page, world, log_in, **_):
    await log_in(world.a.worker)
    await page.goto(f"/citizens/{world.a.citizen.id}/caseworker-summary")
    await expect(page.locator(".caseworker-summary")).to_be_visible()


PAGES = [
    login,
    login_code,
    login_enrol,
    worker_home,
    new_citizen_form,
    new_citizen_form_with_errors,
    citizen_detail,
    citizen_detail_with_new_link,
    supervisor_home,
    admin_home,
    admin_new_staff_form,
    booking_form,
    booking_form_with_errors,
    appointment_page,
    past_appointment_page,
    working_hours,
    working_hours_with_new_feed_address,
    absences_page,
    admin_settings_page,
    citizen_home,
    citizen_home_with_message_hours_and_crisis_line,
    citizens_contact_page,
    invalid_link,
    not_found,
    note_draft_page,
    note_sign_refused_page,
    signed_note_page,
    goal_page,
    citizens_goals_page,
    citizens_notes_page_with_a_shared_note,
    citizens_appointments_page,
    citizens_consents_after_withdrawing_one,
    worker_home_with_missing_consents,
    admin_consents_page,
    admin_consents_with_errors,
    admin_consent_kind_page,
    appointment_page_without_video_consent,
    citizens_check_in_after_the_lowest_answer,
    citizens_day_plan_ticked_and_graded,
    citizens_own_data,
    worker_home_with_a_hard_day_to_follow_up,
    citizen_detail_with_the_wellbeing_trend,
    citizen_detail_without_check_in_consent,
    citizens_data_by_their_worker,
    citizens_summary_for_the_caseworker,
]


@pytest.mark.parametrize("reach", [pytest.param(p, id=p.__name__.replace("_", "-")) for p in PAGES])
async def test_page_has_no_wcag_a_or_aa_violations(reach, page, world, log_in, enter_password, db, assert_accessible):
    await reach(page, world=world, log_in=log_in, enter_password=enter_password, db=db)
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await assert_accessible(page)


async def test_the_axe_check_finds_violations_on_a_bad_page(page, site, axe_violations, assert_accessible):
    # Proves the check can fail: an image without alt text and an input without a label.
    bad = f"{site.url}/deliberately-inaccessible"
    await page.route(
        bad,
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                '<!doctype html><html lang="en"><head><title>Bad</title></head><body><main><h1>Bad</h1>'
                '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="40" height="40">'
                '<input type="text" name="nameless"></main></body></html>'
            ),
        ),
    )
    await page.goto(bad)
    found = {v["id"] for v in await axe_violations(page)}
    assert {"image-alt", "label"} <= found, found
    with pytest.raises(AssertionError, match=r"(?s)image-alt.*at img.*label.*at input.*phone 360x740"):
        await assert_accessible(page)
