"""Support between appointments (issue 16, items 1–2): the worker's "call now" and the citizen's "I'd like to talk to
you". Call now: only for a citizen on the worker's caseload (else 404), who consents to video, within the worker's
working hours (else a clean 409 in Danish, nothing written); it is recorded as an unscheduled video session, opens
the call, shows on the citizen's start page's poll and is announced only on the channels the citizen agreed to. The
knock: only inside the worker's message hours, at most three a day, seen by nobody but the citizen's workers, and
answered by calling or proposing a time; the statistics count both apart."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from vbostotte.booking import lifecycle
from vbostotte.calls import call_requests
from vbostotte.models import Appointment, AuditEntry, CallRequest, MunicipalitySettings, OutboxMessage, WorkingHours
from vbostotte.privacy import consent
from vbostotte.review import statistics

from support import reread, text_of

UTC = dt.UTC
JSON = {"Accept": "application/json"}
MONDAY_0930 = dt.datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # Copenhagen 09.30


async def _hours(db, staff_id: int, kind: str, start: int = 8 * 60, end: int = 16 * 60) -> None:
    db.add(WorkingHours(staff_id=staff_id, kind=kind, weekday=0, start_minute=start, end_minute=end))
    await db.commit()


async def _unscheduled(db, citizen_id: int) -> list[Appointment]:
    await reread(db)
    stmt = select(Appointment).where(Appointment.citizen_id == citizen_id, Appointment.unscheduled.is_(True))
    return list((await db.scalars(stmt)).all())


async def test_call_now_opens_the_call_and_the_citizen_sees_it(world, db, clock, web, other_web):
    await _hours(db, world.a.worker.id, "work")
    clock.now = MONDAY_0930
    await other_web.open_link(world.a.citizen.link_token)
    assert (await (await other_web.client.get("/me/call", headers=JSON)).json())["call"] is None
    await web.login(world.a.worker)
    path = f"/citizens/{world.a.citizen.id}"
    assert 'id="call-now"' in await web.page(path)
    response = await web.post(f"{path}/call-now", from_page=path)
    assert response.status == 303
    [call] = await _unscheduled(db, world.a.citizen.id)
    assert response.headers["Location"] == f"/calls/{call.id}"  # the worker lands on the call page
    assert call.kind.value == "video" and call.starts_at == MONDAY_0930 and call.worker_id == world.a.worker.id
    assert lifecycle.state_of(call, clock()) == lifecycle.State.OPEN
    # Pressed again (a double click): the same call, not a second one.
    assert (await web.post(f"{path}/call-now", from_page=path)).headers["Location"] == f"/calls/{call.id}"
    assert len(await _unscheduled(db, world.a.citizen.id)) == 1
    # The citizen's start page asks and finds it (the page shows it without a reload: tests/browser).
    live = await (await other_web.client.get("/me/call", headers=JSON)).json()
    assert live["call"]["id"] == call.id and live["call"]["url"] == f"/calls/{call.id}"
    assert 'id="call-live"' in await other_web.page("/me")
    # Announced on exactly the channels the citizen agreed to.
    channels = await consent.reminder_channels(db, world.a.citizen.id)
    sent = await db.scalars(select(OutboxMessage.channel).where(OutboxMessage.appointment_id == call.id))
    assert sorted(sent) == sorted(channels) and channels
    assert await db.scalar(select(AuditEntry.id).where(AuditEntry.action == "appointment.call_now"))


async def test_call_now_only_on_agreed_channels(world, db, clock, web):
    await _hours(db, world.a.worker.id, "work")
    clock.now = MONDAY_0930
    worker = world.a.worker.actor
    await consent.withdraw(db, worker, world.a.citizen.id, consent.Kind.SMS_REMINDERS, "in_person", clock())
    await consent.withdraw(db, worker, world.a.citizen.id, consent.Kind.EMAIL_REMINDERS, "in_person", clock())
    await db.commit()
    await web.login(world.a.worker)
    path = f"/citizens/{world.a.citizen.id}"
    assert (await web.post(f"{path}/call-now", from_page=path)).status == 303
    [call] = await _unscheduled(db, world.a.citizen.id)
    assert (await db.scalar(select(OutboxMessage.id).where(OutboxMessage.appointment_id == call.id))) is None


async def test_call_now_refused_without_video_consent(world, db, clock, web):
    await _hours(db, world.a.worker.id, "work")
    clock.now = MONDAY_0930
    await consent.withdraw(db, world.a.worker.actor, world.a.citizen.id, consent.Kind.VIDEO, "in_person", clock())
    await db.commit()
    await web.login(world.a.worker)
    path = f"/citizens/{world.a.citizen.id}"
    response = await web.post(f"{path}/call-now", from_page=path)
    assert response.status == 409
    assert "ikke sagt ja til videosamtaler" in text_of(await response.text())
    assert await _unscheduled(db, world.a.citizen.id) == []


async def test_call_now_refused_outside_working_hours(world, db, clock, web):
    await _hours(db, world.a.worker.id, "work", 8 * 60, 9 * 60)
    clock.now = MONDAY_0930  # 09.30: the hours ended at 09.00
    await web.login(world.a.worker)
    path = f"/citizens/{world.a.citizen.id}"
    response = await web.post(f"{path}/call-now", from_page=path)
    assert response.status == 409 and "arbejdstid" in text_of(await response.text())
    assert await _unscheduled(db, world.a.citizen.id) == []


async def test_call_now_refused_for_a_citizen_not_on_the_caseload(world, db, clock, web):
    await _hours(db, world.a.worker.id, "work")
    clock.now = MONDAY_0930
    await web.login(world.a.worker)
    for citizen in (world.a.other_citizen, world.b.citizen):  # the colleague's citizen; another municipality's
        response = await web.post(f"/citizens/{citizen.id}/call-now", from_page="/worker")
        assert response.status == 404
        assert await _unscheduled(db, citizen.id) == []


async def test_call_now_for_staff_other_than_workers_is_refused(world, db, clock, web):
    clock.now = MONDAY_0930
    await web.login(world.a.supervisor)
    response = await web.post(f"/citizens/{world.a.citizen.id}/call-now", from_page="/supervisor")
    assert response.status == 403


async def test_the_knock_reaches_only_the_citizens_worker(world, db, clock, web, other_web):
    await _hours(db, world.a.worker.id, "messages", 9 * 60, 10 * 60)
    clock.now = MONDAY_0930
    await other_web.open_link(world.a.citizen.link_token)
    home = await other_web.page("/me")
    assert 'id="talk"' in home
    response = await other_web.post("/me/talk", from_page="/me")
    assert response.status == 303 and response.headers["Location"].endswith("done=talk_asked")
    await web.login(world.a.worker)
    asking = (await (await web.client.get("/worker/waiting", headers=JSON)).json())["requests"]
    assert [r["name"] for r in asking] == ["Citizen"]
    assert asking[0]["call_url"] == f"/citizens/{world.a.citizen.id}/call-now"
    # Nobody else sees it: not the colleague, not the supervisor, not another municipality's worker.
    for other in (world.a.other_worker, world.b.worker):
        await web.client.post("/logout", data={"csrf_token": await web.csrf_from("/worker")})
        web.client.session.cookie_jar.clear()
        await web.login(other)
        response = await web.client.get("/worker/waiting", headers=JSON)
        assert (await response.json())["requests"] == []
        assert (
            await web.get(f"/appointments/new?citizen_id={world.a.citizen.id}&call_request={asking[0]['request']}")
        ).status == 200
        booked = await web.post(
            "/appointments/new",
            {"citizen_id": str(world.a.citizen.id), "call_request": str(asking[0]["request"])},
            from_page="/appointments/new",
        )
        assert booked.status == 404  # another's request is not found
    web.client.session.cookie_jar.clear()
    await web.login(world.a.supervisor)
    assert (await web.client.get("/worker/waiting", headers=JSON)).status == 403
    assert await db.scalar(select(AuditEntry.id).where(AuditEntry.action == call_requests.ASK))


async def test_the_knock_is_refused_outside_message_hours_and_over_the_daily_limit(world, db, clock, other_web):
    db.add(MunicipalitySettings(municipality_id=world.a.id, crisis_line_text="Psykiatrisk akutmodtagelse: 7011 2233"))
    await _hours(db, world.a.worker.id, "messages", 9 * 60, 10 * 60)
    clock.now = MONDAY_0930 + dt.timedelta(hours=1)  # 10.30: outside the hours
    await other_web.open_link(world.a.citizen.link_token)
    home = await other_web.page("/me")
    assert 'id="talk"' not in home and "Hvis du har brug for hjælp nu" in text_of(home)
    response = await other_web.post("/me/talk", from_page="/me")
    assert response.status == 409 and "Ingen kan svare lige nu" in text_of(await response.text())
    clock.now = MONDAY_0930
    for _ in range(call_requests.DAILY_LIMIT):
        assert (await other_web.post("/me/talk", from_page="/me")).status == 303
    response = await other_web.post("/me/talk", from_page="/me")
    assert response.status == 409 and "allerede spurgt i dag" in text_of(await response.text())
    assert 'id="talk"' not in await other_web.page("/me")
    await reread(db)
    count = await db.scalar(select(CallRequest.id).where(CallRequest.citizen_id == world.a.citizen.id).limit(1))
    assert count is not None
    clock.now = MONDAY_0930 + dt.timedelta(days=7)  # next Monday: a new day
    assert (await other_web.post("/me/talk", from_page="/me")).status == 303


async def test_the_worker_answers_by_calling_or_proposing_a_time(world, db, clock, web, other_web):
    await _hours(db, world.a.worker.id, "messages", 9 * 60, 10 * 60)
    await _hours(db, world.a.worker.id, "work")
    clock.now = MONDAY_0930
    await other_web.open_link(world.a.citizen.link_token)
    for _ in range(2):
        assert (await other_web.post("/me/talk", from_page="/me")).status == 303
    await web.login(world.a.worker)
    first, second = (await (await web.client.get("/worker/waiting", headers=JSON)).json())["requests"]
    clock.advance(minutes=4)
    response = await web.post(first["call_url"], {"call_request": str(first["request"])}, from_page="/worker")
    assert response.status == 303 and response.headers["Location"].startswith("/calls/")
    # Propose a time: the booking form, answering the request when the appointment is booked.
    form = await web.page(second["propose_url"])
    assert f'name="call_request" value="{second["request"]}"' in form
    booked = await web.post(
        "/appointments/new",
        {
            "citizen_id": str(world.a.citizen.id),
            "call_request": str(second["request"]),
            "kind": "video",
            "date": "2026-11-23",
            "time": "14:00",
            "duration": "30",
        },
        from_page=second["propose_url"],
    )
    assert booked.status == 303, await booked.text()
    await reread(db)
    answers = {r.id: r for r in await db.scalars(select(CallRequest))}
    assert answers[first["request"]].answer == "called" and answers[second["request"]].answer == "proposed"
    assert (await (await web.client.get("/worker/waiting", headers=JSON)).json())["requests"] == []
    # The citizen sees the proposed time and can answer it.
    assert (await db.get(Appointment, answers[second["request"]].appointment_id)).unscheduled is False
    # Answering twice is refused cleanly.
    again = await web.post(first["call_url"], {"call_request": str(first["request"])}, from_page="/worker")
    assert again.status == 409
    stats = await statistics.compute(
        db,
        statistics.Scope(world.a.id, (world.a.team_id,)),
        statistics.Period.week_of(dt.date(2026, 11, 23)),
    )
    assert (stats.between.unscheduled, stats.between.requests, stats.between.answered) == (1, 2, 2)
    assert (stats.between.called, stats.between.proposed) == (1, 1)
    assert stats.between.median_answer_minutes == 4
    await web.client.post("/logout", data={"csrf_token": await web.csrf_from("/worker")})
    web.client.session.cookie_jar.clear()
    await web.login(world.a.supervisor)
    page = text_of(await web.page("/supervisor/statistics?period=week&day=2026-11-23"))
    assert "Mellem aftalerne" in page
