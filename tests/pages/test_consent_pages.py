"""Consent on the pages: the citizen withdraws or gives with one tap, the worker records a verbal consent and
sees what is missing, the administrator keeps the kinds and their texts; nothing crosses citizens or tenants."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from vbostotte.models import AuditEntry, ConsentEvent, ConsentVersion, OutboxMessage
from vbostotte.privacy import consent

from support import reread, text_of


async def test_the_citizen_withdraws_with_one_tap_and_gives_again_with_one_tap(web, world, db):
    citizen = world.a.citizen
    await web.open_link(citizen.link_token)
    assert 'href="/me/consents"' in await web.page("/me")  # the start page's menu leads to them
    page = text_of(await web.page("/me/consents"))
    assert "Dine samtykker" in page and "Samtaler på video" in page and "Du har sagt ja." in page

    # One POST, no confirmation step: the consent is withdrawn at once, and the citizen is back on the same page.
    withdrawn = await web.post("/me/consents", {"kind": "video", "action": "withdraw"}, from_page="/me/consents")
    assert withdrawn.status == 303 and withdrawn.headers["Location"] == "/me/consents?done=consent_withdraw#consents"
    await reread(db)
    assert not await consent.has(db, citizen.id, consent.Kind.VIDEO)
    page = text_of(await web.page("/me/consents?done=consent_withdraw"))
    assert "Du har trukket dit samtykke tilbage" in page and "Du har ikke sagt ja." in page

    given = await web.post("/me/consents", {"kind": "video", "action": "give"}, from_page="/me/consents")
    assert given.status == 303
    await reread(db)
    assert await consent.has(db, citizen.id, consent.Kind.VIDEO)
    events = (
        await db.execute(
            select(ConsentEvent.action, ConsentEvent.how, ConsentEvent.recorded_by_kind)
            .where(ConsentEvent.citizen_id == citizen.id, ConsentEvent.kind_code == "video")
            .order_by(ConsentEvent.seq)
        )
    ).all()
    assert events[-2:] == [("withdrawn", "citizen_page", "citizen"), ("given", "citizen_page", "citizen")]
    reads = (
        (
            await db.execute(
                select(AuditEntry.purpose).where(
                    AuditEntry.action == "consent.list", AuditEntry.citizen_id == citizen.id
                )
            )
        )
        .scalars()
        .all()
    )
    assert reads and set(reads) == {"self_service"}


async def test_the_withdraw_and_give_buttons_are_the_same_size_and_each_is_one_form(web, world):
    await web.open_link(world.a.citizen.link_token)
    html = await web.page("/me/consents")
    assert html.count('value="withdraw" class="button button--big') == len(consent.Kind)
    await web.post("/me/consents", {"kind": "sms_reminders", "action": "withdraw"}, from_page="/me/consents")
    html = await web.page("/me/consents")
    assert html.count('value="give" class="button button--big') == 1


async def test_a_citizen_cannot_change_a_kind_that_does_not_exist(web, world, db):
    await web.open_link(world.a.citizen.link_token)
    response = await web.post("/me/consents", {"kind": "photos", "action": "withdraw"}, from_page="/me/consents")
    assert response.status == 422
    await reread(db)
    assert await consent.missing(db, [world.a.citizen.id]) == {world.a.citizen.id: []}


async def test_the_worker_records_a_verbal_consent_and_sees_it_marked(web, world, db):
    other = world.a.other_citizen  # no consents yet
    await web.login(world.a.other_worker)
    page = f"/citizens/{other.id}"
    assert "Ikke spurgt endnu" in text_of(await web.page(page))
    done = await web.post(
        f"{page}/consents", {"kind": "sms_reminders", "action": "give", "how": "phone"}, from_page=page
    )
    assert done.status == 303
    await reread(db)
    state = {s.kind: s for s in await consent.current(db, other.id)}["sms_reminders"]
    assert state.given and state.verbal and state.recorded_by == world.a.other_worker.name
    text = text_of(await web.page(f"{page}?done=consent"))
    assert "Samtykket er registreret." in text
    assert "i telefonen — mundtligt" in text and world.a.other_worker.name in text


async def test_the_worker_may_not_record_as_the_citizen(web, world, db):
    await web.login(world.a.worker)
    page = f"/citizens/{world.a.citizen.id}"
    response = await web.post(
        f"{page}/consents", {"kind": "video", "action": "withdraw", "how": "citizen_page"}, from_page=page
    )
    assert response.status == 422
    await reread(db)
    assert await consent.has(db, world.a.citizen.id, consent.Kind.VIDEO)


async def test_the_worker_dashboard_shows_which_consents_are_missing(web, other_web, world, db):
    await web.login(world.a.other_worker)
    page = text_of(await web.page("/worker"))
    assert "Mangler samtykke: Samtaler på video, Påmindelser på SMS" in page  # other_citizen has none
    await other_web.login(world.a.worker)
    assert "Alle samtykker er givet" in text_of(await other_web.page("/worker"))
    reads = (await db.execute(select(AuditEntry.purpose).where(AuditEntry.action == "consent.overview"))).scalars()
    assert set(reads) == {"caseload_overview"}


async def test_another_citizens_or_tenants_consents_are_not_found(web, world, db):
    await web.login(world.a.worker)
    for citizen_id in (world.a.other_citizen.id, world.b.citizen.id):
        response = await web.post(
            f"/citizens/{citizen_id}/consents", {"kind": "video", "action": "give", "how": "phone"}, from_page="/worker"
        )
        assert response.status == 404
    await reread(db)
    assert not await consent.has(db, world.a.other_citizen.id, consent.Kind.VIDEO)
    assert await consent.has(db, world.b.citizen.id, consent.Kind.VIDEO)
    denied = (
        (
            await db.execute(
                select(AuditEntry.object_id).where(
                    AuditEntry.action == "consent.record", AuditEntry.outcome == "denied"
                )
            )
        )
        .scalars()
        .all()
    )
    assert sorted(denied) == sorted([world.a.other_citizen.id, world.b.citizen.id])


async def test_the_administrator_adds_a_kind_and_changes_a_text_keeping_the_history(web, world, db):
    await web.login(world.a.admin)
    listing = text_of(await web.page("/admin/consents"))
    assert "Samtaler på video" in listing and "video" in listing
    added = await web.post(
        "/admin/consents",
        {
            "code": "photos",
            "title_da": "Billeder",
            "title_en": "Photos",
            "text_da": "Min bostøtte må tage billeder af min plan.",
            "text_en": "My support worker may take photos of my plan.",
        },
    )
    assert added.status == 303
    kind_page = added.headers["Location"].split("?")[0]
    assert "Samtykketypen er tilføjet." in text_of(await web.page(added.headers["Location"]))

    path = f"/admin/consents/{world.a.consent_kind_id}"
    changed = await web.post(
        path,
        {
            "title_da": "Samtaler på video",
            "title_en": "Video sessions",
            "text_da": "Jeg vil gerne tale med min bostøtte på video. Intet bliver optaget.",
            "text_en": "I want video sessions. Nothing is recorded.",
        },
    )
    assert changed.status == 303
    history = text_of(await web.page(path))
    assert "Version 2" in history and "Version 1" in history and "Intet bliver optaget" in history
    await reread(db)
    versions = (
        (await db.execute(select(ConsentVersion.version).where(ConsentVersion.kind_id == world.a.consent_kind_id)))
        .scalars()
        .all()
    )
    assert sorted(versions) == [1, 2]
    # The citizen's page shows the new text; their consent stays on version 1.
    state = {s.kind: s for s in await consent.current(db, world.a.citizen.id)}
    assert state["video"].version == 1 and state["video"].outdated and "photos" in state
    assert kind_page.startswith("/admin/consents/")

    # Another municipality's kind is not found; a duplicate code is refused with the form shown again.
    assert (await web.get(f"/admin/consents/{world.b.consent_kind_id}")).status == 404
    again = await web.post(
        "/admin/consents", {"code": "photos", "title_da": "B", "title_en": "P", "text_da": "T", "text_en": "T"}
    )
    assert again.status == 422 and 'action="/admin/consents"' in await again.text()


async def test_only_administrators_keep_the_kinds(web, world):
    await web.login(world.a.worker)
    assert (await web.get("/admin/consents")).status == 403
    assert (await web.get(f"/admin/consents/{world.a.consent_kind_id}")).status == 403


async def test_a_video_session_without_video_consent_warns_the_worker(web, world, db, clock):
    await consent.withdraw(db, world.a.worker.actor, world.a.citizen.id, consent.Kind.VIDEO, "phone", clock())
    await db.commit()
    await web.login(world.a.worker)
    page = text_of(await web.page(f"/appointments/{world.a.citizen.appointment_id}"))
    assert "har ikke givet samtykke til samtaler på video" in page
    await consent.give(
        db, world.a.worker.actor, world.a.citizen.id, consent.Kind.VIDEO, "phone", clock() + dt.timedelta(minutes=1)
    )
    await db.commit()
    assert "har ikke givet samtykke" not in text_of(await web.page(f"/appointments/{world.a.citizen.appointment_id}"))


async def test_withdrawing_on_the_citizen_page_drops_pending_reminders_at_once(web, world, db, clock):
    from vbostotte.booking import booking
    from vbostotte.models import AppointmentKind, WorkingHours

    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
            for d in range(5)
        ]
    )
    await db.commit()
    await booking.book(
        db,
        world.a.worker.actor,
        booking.BookingRequest(
            citizen_id=world.a.citizen.id,
            kind=AppointmentKind.HOME_VISIT,
            starts_at=dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC),
            duration_minutes=45,
        ),
        clock(),
    )
    await db.commit()
    await web.open_link(world.a.citizen.link_token)
    await web.post("/me/consents", {"kind": "email_reminders", "action": "withdraw"}, from_page="/me/consents")
    await reread(db)
    rows = (
        await db.execute(
            select(OutboxMessage.channel, OutboxMessage.status, OutboxMessage.last_error).where(
                OutboxMessage.recipient_kind == "citizen"
            )
        )
    ).all()
    assert {(s, e) for c, s, e in rows if c == "email"} == {("dropped", "consent withdrawn")}
    assert {s for c, s, _ in rows if c == "sms"} == {"pending"}
