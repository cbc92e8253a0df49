"""The supervisor's review pages: statistics, session logs, the access log, consent, the pilot export —
scoped to the supervisor's own teams (administrators: the municipality's aggregates), every read audit-logged."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from vbostotte import audit
from vbostotte.models import Appointment, AuditEntry, Citizen, Team

from support import a_held_video_session, read_in_english, reread, text_of


@pytest.fixture(autouse=True)
def english(web):
    read_in_english(web)


async def test_a_supervisor_reads_a_session_log_of_their_team_and_the_read_is_audited(web, world, db, clock):
    appointment_id = await a_held_video_session(db, world, clock)
    await web.login(world.a.supervisor)
    page = text_of(await web.page(f"/supervisor/appointments/{appointment_id}/log"))
    for words in (
        "Booked by Worker Aarhus",
        "The citizen confirmed",
        "Reminder by SMS to the citizen: sent",
        "The citizen was let in by Worker Aarhus after 65 seconds",
        "connected through the relay server",
        "The citizen left: hung up",
        "The citizen ended the call",
        "30.1 minutes",
    ):
        assert words in page, words
    await reread(db)
    read = (await db.execute(select(AuditEntry).where(AuditEntry.action == "appointment.session_log"))).scalar_one()
    assert (read.actor_id, read.citizen_id, read.purpose, read.outcome) == (
        world.a.supervisor.id,
        world.a.citizen.id,
        audit.Purpose.SUPERVISION,
        audit.ALLOWED,
    )


async def another_team_with_a_citizen(db, world, clock) -> tuple[int, int, int]:
    """Team Nord in world.a's municipality (the supervisor is not a member): its id, a citizen without any
    consent, and that citizen's home visit the day before yesterday."""
    team = Team(municipality_id=world.a.id, name="Team Nord")
    db.add(team)
    await db.flush()
    citizen = Citizen(
        municipality_id=world.a.id,
        team_id=team.id,
        name="Borger Nord",
        preferred_name="Nord",
        locale="da",
        created_at=clock(),
    )
    db.add(citizen)
    await db.flush()
    starts = clock() - dt.timedelta(days=2)
    visit = Appointment(
        municipality_id=world.a.id,
        citizen_id=citizen.id,
        worker_id=world.a.worker.id,
        kind="home_visit",
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=45),
        created_at=clock(),
        created_by_id=world.a.worker.id,
        attendance="attended",
    )
    db.add(visit)
    await db.commit()
    return team.id, citizen.id, visit.id


async def test_another_teams_or_municipalitys_log_and_team_are_not_found_and_audited(web, world, db, clock):
    other_team, _, other_visit = await another_team_with_a_citizen(db, world, clock)
    await web.login(world.a.supervisor)
    for path in (
        f"/supervisor/appointments/{world.b.citizen.appointment_id}/log",
        f"/supervisor/appointments/{other_visit}/log",
        f"/supervisor/statistics?team={other_team}",
        f"/supervisor/statistics?team={world.b.team_id}",
        f"/supervisor/export?team={other_team}&format=json",
        f"/supervisor/sessions?team={other_team}",
    ):
        response = await web.get(path)
        assert response.status == 404, path
        text = await response.text()
        assert world.b.citizen.name not in text and "Borger Nord" not in text
    assert "Borger Nord" not in text_of(await web.page("/supervisor/consent"))
    await reread(db)
    denied = (
        await db.execute(
            select(AuditEntry.action, AuditEntry.object_type)
            .where(AuditEntry.outcome == audit.DENIED)
            .order_by(AuditEntry.id)
        )
    ).all()
    assert [tuple(d) for d in denied] == [
        ("appointment.session_log", "appointment"),
        ("appointment.session_log", "citizen"),
        ("statistics.view", "team"),
        ("statistics.view", "team"),
        ("statistics.export", "team"),
        ("appointment.list", "team"),
    ]


async def test_statistics_page_csv_and_pilot_export(web, world, db, clock):
    await a_held_video_session(db, world, clock)
    await web.login(world.a.supervisor)
    page = await web.page("/supervisor/statistics?period=month")
    assert 'role="img"' in page and '<title id="chart-outcomes-title">' in page and "style=" not in page
    text = text_of(page)
    assert "Reminder sent, confirmed 1 0 100%" in text and "Share that needed a relay 100% (1 / 1)" in text
    response = await web.get("/supervisor/statistics?period=month&format=csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "Appointments held;" in await response.text()
    exported = json.loads(await (await web.get("/supervisor/export?period=month&format=json")).text())
    assert exported["figures"]["held"] == "<5" and exported["figures"]["interpreter_held"] in ("<5", "0")
    assert world.a.citizen.name not in json.dumps(exported)
    await reread(db)
    actions = set(
        (await db.execute(select(AuditEntry.action).where(AuditEntry.actor_id == world.a.supervisor.id))).scalars()
    )
    assert {"statistics.view", "statistics.export"} <= actions


async def test_travel_minutes_are_set_per_team_and_used_for_driving_time(web, world, db, clock):
    await a_held_video_session(db, world, clock)
    await web.login(world.a.supervisor)
    response = await web.post(
        f"/supervisor/teams/{world.a.team_id}/travel", {"minutes": "50"}, from_page="/supervisor/statistics"
    )
    assert response.status == 303
    assert "Estimated driving time saved 0.8 hours (50 minutes)" in text_of(await web.page("/supervisor/statistics"))


async def test_the_access_log_shows_denied_reads_and_reads_outside_the_caseload(web, other_web, world, db, clock):
    read_in_english(other_web)
    await other_web.login(world.a.worker)
    assert (await other_web.get(f"/citizens/{world.a.other_citizen.id}")).status == 404
    await web.login(world.a.supervisor)
    page = await web.page("/supervisor/access-log?denied=1")
    text = text_of(page)
    assert "The audit log is intact" in text and "Denied" in text and 'class="flagged"' in page
    assert "Saw the citizen's page" in text and "citizen.view" not in text
    filtered = text_of(await web.page(f"/supervisor/access-log?staff={world.a.worker.id}&action=citizen.view"))
    assert "Worker Aarhus" in filtered
    await reread(db)
    assert (await db.execute(select(AuditEntry).where(AuditEntry.action == "audit.view"))).scalars().all()


async def test_the_consent_overview_lists_citizens_without_the_consents_their_appointments_need(web, world, db):
    await web.login(world.a.supervisor)
    text = text_of(await web.page("/supervisor/consent"))
    assert world.a.citizen.name in text and world.b.citizen.name not in text
    assert "video consent" in text


async def test_an_administrator_reviews_every_team_of_the_municipality_and_no_other(web, world, db, clock):
    appointment_id = await a_held_video_session(db, world, clock)
    other_team, nord_citizen, nord_visit = await another_team_with_a_citizen(db, world, clock)
    await web.login(world.a.admin)
    assert "Team Aarhus" in text_of(await web.page("/supervisor/statistics"))
    page = text_of(await web.page(f"/supervisor/appointments/{appointment_id}/log"))
    assert "The citizen ended the call" in page and world.a.citizen.name in page
    assert "Borger Nord" in text_of(await web.page(f"/supervisor/appointments/{nord_visit}/log"))
    sessions = text_of(await web.page("/supervisor/sessions?period=month"))
    assert world.a.citizen.name in sessions and "Borger Nord" in sessions and world.b.citizen.name not in sessions
    assert "Borger Nord" in text_of(await web.page(f"/supervisor/sessions?team={other_team}&period=month"))
    consents = await web.page("/supervisor/consent")
    assert "Borger Nord Team Nord" in text_of(consents) and world.a.other_citizen.name in text_of(consents)
    assert world.b.other_citizen.name not in text_of(consents)
    assert f"/citizens/{nord_citizen}" not in consents  # no link to a page an administrator may not open
    assert "The audit log is intact" in text_of(await web.page("/supervisor/access-log"))
    # Another municipality stays out of reach; reviewing is not reading the citizen's own page.
    for path in (
        f"/supervisor/appointments/{world.b.citizen.appointment_id}/log",
        f"/supervisor/appointments/{world.b.citizen.past_appointment_id}/log",
        f"/supervisor/sessions?team={world.b.team_id}",
        f"/citizens/{nord_citizen}",
    ):
        response = await web.get(path)
        assert response.status == 404, path
        assert world.b.citizen.name not in await response.text()
    await reread(db)
    reads = (
        await db.execute(
            select(AuditEntry.action, AuditEntry.citizen_id, AuditEntry.purpose, AuditEntry.outcome)
            .where(
                AuditEntry.actor_id == world.a.admin.id,
                AuditEntry.action.in_(("appointment.session_log", "appointment.list", "consent.overview")),
            )
            .order_by(AuditEntry.id)
        )
    ).all()
    allowed, denied = audit.ALLOWED, audit.DENIED
    assert [tuple(r) for r in reads] == [
        ("appointment.session_log", world.a.citizen.id, audit.Purpose.SUPERVISION, allowed),
        ("appointment.session_log", nord_citizen, audit.Purpose.SUPERVISION, allowed),
        ("appointment.list", None, audit.Purpose.SUPERVISION, allowed),
        ("appointment.list", None, audit.Purpose.SUPERVISION, allowed),
        ("consent.overview", None, audit.Purpose.SUPERVISION, allowed),
        ("appointment.session_log", None, audit.Purpose.SUPERVISION, denied),
        ("appointment.session_log", None, audit.Purpose.SUPERVISION, denied),
        ("appointment.list", None, audit.Purpose.SUPERVISION, denied),
    ]


async def test_a_worker_reviews_nothing(web, world, db, clock):
    appointment_id = await a_held_video_session(db, world, clock)
    await web.login(world.a.worker)
    for path in (
        "/supervisor/statistics",
        "/supervisor/sessions",
        f"/supervisor/appointments/{appointment_id}/log",
        "/supervisor/consent",
        "/supervisor/access-log",
        "/supervisor/export",
    ):
        assert (await web.get(path)).status == 403, path
