"""Session notes through the pages: drafts that survive a closed browser, signing that makes a version final on
every endpoint, amendments that keep the old version, and who may read a note (each read audited once)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from vbostotte import audit
from vbostotte.models import AuditEntry, Caseload, Note, NoteVersion, NoteVersionGoal, StaffRole, Team

from support import add_staff, read_in_english, reread, text_of


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


async def api_post(browser, path: str, body: dict, *, token: str | None = None):
    """A JSON call as note_autosave.js makes it: the page's CSRF token in the X-CSRF-Token header."""
    headers = {
        "Content-Type": "application/json",
        "Origin": browser.origin,
        "X-CSRF-Token": token or await browser.csrf_from("/worker"),
    }
    return await browser.client.post(path, data=json.dumps(body), headers=headers, allow_redirects=False)


async def versions(db, note_id: int) -> list[tuple]:
    await reread(db)
    rows = (
        await db.execute(select(NoteVersion).where(NoteVersion.note_id == note_id).order_by(NoteVersion.number))
    ).scalars()
    return [
        (v.number, v.status.value, v.talked_about, v.agreements, v.assessment, v.signed_at, v.updated_at) for v in rows
    ]


async def audit_count(db) -> int:
    await reread(db)
    return (await db.execute(select(func.count()).select_from(AuditEntry))).scalar_one()


TEXT = {
    "talked_about": "Vi talte om søvn og om at handle ind.",
    "agreements": "Mette handler ind torsdag.",
    "assessment": "Mere overskud end sidst.",
}


async def test_after_an_appointment_the_worker_lands_in_their_draft_note(web, world, db):
    a = world.a
    await web.login(a.worker)
    first = await web.get(f"/appointments/{a.citizen.appointment_id}/note")
    assert first.status == 303 and first.headers["Location"].startswith("/notes/")
    again = await web.get(f"/appointments/{a.citizen.appointment_id}/note")
    assert again.headers["Location"] == first.headers["Location"]  # the same draft, not a second note
    past = await web.get(f"/appointments/{a.citizen.past_appointment_id}/note")
    assert past.headers["Location"] == f"/notes/{a.note_id}"  # the one already started
    page = text_of(await web.page(first.headers["Location"]))
    assert "After the video session" in page and "Draft, not signed" in page
    appointment_page = await web.page(f"/appointments/{a.citizen.appointment_id}")
    assert f'href="/appointments/{a.citizen.appointment_id}/note"' in appointment_page
    citizen_page = await web.page(f"/citizens/{a.citizen.id}")
    assert first.headers["Location"] in citizen_page and "Vi talte om at sove bedre" not in citizen_page  # no text


async def test_a_draft_survives_a_closed_browser(web, other_web, world, db):
    a = world.a
    await web.login(a.worker)
    page = await web.page(f"/notes/{a.note_id}")
    assert 'data-draft-url="/api/v1/notes/' in page and "note_autosave.js" in page
    saved = await api_post(web, f"/api/v1/notes/{a.note_id}/draft", TEXT)
    assert saved.status == 200 and (await saved.json())["version"] == 1
    # The browser is closed without pressing Save: a new browser, a new login, and the text is there.
    await web.client.close()
    await other_web.login(a.worker)
    reopened = await other_web.page(f"/notes/{a.note_id}")
    for text in TEXT.values():
        assert text in reopened
    assert (await versions(db, a.note_id))[0][1:5] == ("draft", *TEXT.values())


async def test_autosave_needs_the_csrf_header_and_the_author(web, other_web, world, db):
    a = world.a
    await web.login(a.worker)
    before = await versions(db, a.note_id)
    no_token = await web.client.post(
        f"/api/v1/notes/{a.note_id}/draft", data=json.dumps(TEXT), headers={"Content-Type": "application/json"}
    )
    assert no_token.status == 403
    db.add(Caseload(staff_id=a.other_worker.id, citizen_id=a.citizen.id))
    await db.commit()
    await other_web.login(a.other_worker)  # may read the note, but it is not theirs to write
    assert (await api_post(other_web, f"/api/v1/notes/{a.note_id}/draft", TEXT)).status == 403
    assert (await api_post(web, f"/api/v1/notes/{a.note_id}/draft", {**TEXT, "extra": "x"})).status == 422
    assert await versions(db, a.note_id) == before


async def test_a_signed_note_cannot_be_changed_through_any_endpoint(web, world, db):
    a = world.a
    await web.login(a.worker)
    signed = await web.post(f"/notes/{a.note_id}/sign", {**TEXT, "shared": "0"}, from_page=f"/notes/{a.note_id}")
    assert signed.status == 303
    before = await versions(db, a.note_id)
    assert before[0][1] == "signed"
    goals_before = (await db.execute(select(func.count()).select_from(NoteVersionGoal))).scalar_one()
    change = {
        "talked_about": "Ændret bagefter",
        "agreements": "",
        "assessment": "",
        "shared": "1",
        "goal_ids": str(a.goal_id),
    }
    token = await web.csrf_from(f"/notes/{a.note_id}")
    attempts = {
        "save": await web.post(f"/notes/{a.note_id}", change, from_page="/worker"),
        "sign": await web.post(f"/notes/{a.note_id}/sign", change, from_page="/worker"),
        "autosave": await api_post(
            web,
            f"/api/v1/notes/{a.note_id}/draft",
            {"talked_about": "Ændret", "agreements": "", "assessment": ""},
            token=token,
        ),
        "new note for the appointment": await web.get(f"/appointments/{a.citizen.past_appointment_id}/note"),
    }
    for name, response in attempts.items():
        if name == "new note for the appointment":
            assert response.headers["Location"] == f"/notes/{a.note_id}", name  # opens it; changes nothing
        else:
            assert response.status == 409, (name, response.status)
            assert "signed and can no longer be changed" in await response.text(), name
    assert await versions(db, a.note_id) == before
    assert (await db.execute(select(func.count()).select_from(NoteVersionGoal))).scalar_one() == goals_before
    assert (await db.get(Note, a.note_id)).shared_with_citizen is False
    # The amendment endpoint makes a new version and leaves the signed one exactly as it was.
    assert (await web.post(f"/notes/{a.note_id}/amend", {"reason": "Forkert dag"}, from_page="/worker")).status == 303
    after = await versions(db, a.note_id)
    assert after[0] == before[0] and after[1][:3] == (2, "draft", TEXT["talked_about"])


async def test_an_amendment_keeps_both_versions_visible(web, world, db):
    a = world.a
    await web.login(a.worker)
    await web.post(
        f"/notes/{a.note_id}/sign", {**TEXT, "shared": "0", "goal_ids": str(a.goal_id)}, from_page=f"/notes/{a.note_id}"
    )
    await web.post(f"/notes/{a.note_id}/amend", {"reason": "Aftalen var fredag"}, from_page="/worker")
    draft = text_of(await web.page(f"/notes/{a.note_id}"))
    assert "Amendment (version 2), not signed" in draft and "Reason for the amendment: Aftalen var fredag" in draft
    await web.post(
        f"/notes/{a.note_id}/sign",
        {**TEXT, "agreements": "Mette handler ind fredag.", "shared": "0", "goal_ids": str(a.goal_id)},
        from_page=f"/notes/{a.note_id}",
    )
    page = text_of(await web.page(f"/notes/{a.note_id}"))
    assert "Version 2, signed" in page and "Version 1, signed" in page and "replaced by a later version" in page
    assert "Mette handler ind fredag." in page and "Mette handler ind torsdag." in page
    rows = await versions(db, a.note_id)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        (1, "signed", TEXT["agreements"]),
        (2, "signed", "Mette handler ind fredag."),
    ]
    assert "Gå en tur hver dag" in page  # the goal touched, on both versions


async def test_signing_needs_what_was_talked_about_and_keeps_what_was_typed(web, world, db):
    a = world.a
    await web.login(a.worker)
    refused = await web.post(
        f"/notes/{a.note_id}/sign",
        {"talked_about": " ", "agreements": "Ring torsdag", "shared": "0"},
        from_page=f"/notes/{a.note_id}",
    )
    assert refused.status == 422
    body = await refused.text()
    assert "Write what you talked about before you sign." in text_of(body) and "Ring torsdag" in body
    assert (await versions(db, a.note_id))[0][1:3] == ("draft", "Udkast om ugen")


# --- Who may read a note --------------------------------------------------------------------------------------


@pytest.fixture
async def cast(world, db, clock):
    """Everyone the read rule is about. other_worker (team A) joins the citizen's caseload; "bystander" is in team A
    but does not support the citizen; team West has a worker put on the caseload and a supervisor."""
    a = world.a
    west = Team(municipality_id=a.id, name="Team Vest")
    db.add(west)
    await db.flush()
    people = {
        "author": a.worker,
        "co-worker on the caseload": a.other_worker,
        "team supervisor": a.supervisor,
        "administrator": a.admin,
        "other municipality's worker": world.b.worker,
        "other municipality's supervisor": world.b.supervisor,
        "same team, not on the caseload": await add_staff(db, world, "bystander", StaffRole.WORKER, a.team_id, clock()),
        "other team's worker on the caseload": await add_staff(
            db, world, "west-worker", StaffRole.WORKER, west.id, clock()
        ),
        "other team's supervisor": await add_staff(db, world, "west-lead", StaffRole.SUPERVISOR, west.id, clock()),
    }
    db.add_all(
        [
            Caseload(staff_id=a.other_worker.id, citizen_id=a.citizen.id),
            Caseload(staff_id=people["other team's worker on the caseload"].id, citizen_id=a.citizen.id),
        ]
    )
    await db.commit()
    return people


MATRIX = {  # who: may read (200), else 404; the purpose of the entry
    "author": (True, audit.Purpose.SUPPORT),
    "co-worker on the caseload": (True, audit.Purpose.SUPPORT),
    "team supervisor": (True, audit.Purpose.SUPERVISION),
    "same team, not on the caseload": (False, audit.Purpose.SUPPORT),
    "other team's worker on the caseload": (False, audit.Purpose.SUPPORT),
    "other team's supervisor": (False, audit.Purpose.SUPERVISION),
    "administrator": (False, audit.Purpose.SUPPORT),
    "other municipality's worker": (False, audit.Purpose.SUPPORT),
    "other municipality's supervisor": (False, audit.Purpose.SUPERVISION),
}


@pytest.mark.parametrize("who", list(MATRIX))
async def test_who_may_read_a_note_and_each_read_is_audited_once(web, world, db, cast, who):
    allowed, purpose = MATRIX[who]
    note_id = world.a.signed_note_id
    await web.login(cast[who])
    before = await audit_count(db)
    response = await web.get(f"/notes/{note_id}")
    body = await response.text()
    assert response.status == (200 if allowed else 404), who
    assert ("Vi talte om at sove bedre" in body) is allowed, who
    await reread(db)
    entries = (await db.execute(select(AuditEntry).where(AuditEntry.id > before))).scalars().all()
    assert [(e.actor_id, e.action, e.object_type, e.object_id, e.purpose, e.outcome) for e in entries] == [
        (cast[who].id, "note.view", "note", note_id, purpose, audit.ALLOWED if allowed else audit.DENIED)
    ], who
    if allowed:
        assert entries[0].citizen_id == world.a.citizen.id
    # The list on the citizen's page shows exactly the notes the viewer may read, and no note text.
    listing = await web.get(f"/citizens/{world.a.citizen.id}")
    if listing.status == 200:
        assert (f'href="/notes/{note_id}"' in await listing.text()) is allowed, who


async def test_a_citizen_reads_only_shared_notes_on_their_own_page_latest_signed_version(web, other_web, world, db):
    a = world.a
    await other_web.open_link(a.citizen.link_token)
    assert (await other_web.get(f"/notes/{a.signed_note_id}")).status == 403  # staff pages are not theirs
    assert 'href="/me/notes"' in await other_web.page("/me")  # the start page's menu leads to them
    home = text_of(await other_web.page("/me/notes"))
    assert "Vi talte om at sove bedre" not in home  # not shared
    assert "Your support worker has not shared any notes with you yet." in home
    await web.login(a.worker)
    await web.post(f"/notes/{a.note_id}/sign", {**TEXT, "shared": "1"}, from_page=f"/notes/{a.note_id}")
    before = await audit_count(db)
    home = text_of(await other_web.page("/me/notes"))
    assert TEXT["talked_about"] in home and TEXT["agreements"] in home
    assert "Vi talte om at sove bedre" not in home  # the other note is still not shared
    await reread(db)
    entries = (await db.execute(select(AuditEntry).where(AuditEntry.id > before))).scalars().all()
    assert [(e.action, e.purpose, e.citizen_id) for e in entries if e.action.startswith("note.")] == [
        ("note.shared_view", audit.Purpose.SELF_SERVICE, a.citizen.id)
    ]
    # An amendment in progress is not shown; the signed version is, until the amendment is signed.
    await web.post(f"/notes/{a.note_id}/amend", {"reason": "Rettelse"}, from_page="/worker")
    await web.post(
        f"/notes/{a.note_id}",
        {**TEXT, "agreements": "Kladde, ikke færdig", "shared": "1"},
        from_page=f"/notes/{a.note_id}",
    )
    home = text_of(await other_web.page("/me/notes"))
    assert TEXT["agreements"] in home and "Kladde, ikke færdig" not in home
    await web.post(
        f"/notes/{a.note_id}/sign",
        {**TEXT, "agreements": "Mette handler fredag", "shared": "1"},
        from_page=f"/notes/{a.note_id}",
    )
    home = text_of(await other_web.page("/me/notes"))
    assert "Mette handler fredag" in home and TEXT["agreements"] not in home


async def test_another_citizen_never_sees_a_shared_note(web, world, db, aiohttp_client, app, clock):
    from support import WebClient

    a = world.a
    await web.login(a.worker)
    await web.post(f"/notes/{a.note_id}/sign", {**TEXT, "shared": "1"}, from_page=f"/notes/{a.note_id}")
    stranger = WebClient(await aiohttp_client(app), clock)
    await stranger.open_link(a.other_citizen.link_token)
    assert TEXT["talked_about"] not in await stranger.page("/me/notes")
