"""The summary for the citizen's caseworker: only with the citizen's consent to caseworker sharing (withdrawing it
blocks at once), only for the worker with the citizen on their caseload, every summary audit-logged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from vbostotte import audit
from vbostotte.models import Appointment, AuditEntry, Note, NoteStatus, NoteVersion

from support import read_in_english, reread, text_of

REFUSED = "The citizen has not agreed to sharing information with the caseworker."


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


async def summaries(db) -> list[tuple]:
    await reread(db)
    rows = (
        await db.execute(
            select(AuditEntry).where(AuditEntry.action.like("caseworker_export.%")).order_by(AuditEntry.id)
        )
    ).scalars()
    return [(e.actor_id, e.action, e.citizen_id, e.purpose, e.outcome) for e in rows]


async def signed_note(db, world, clock, citizen, worker_id: int, text: str) -> None:
    """A signed (not shared) note about ``citizen`` in municipality A."""
    note = Note(
        municipality_id=world.a.id,
        citizen_id=citizen.id,
        author_id=worker_id,
        team_id=world.a.team_id,
        created_at=clock(),
    )
    db.add(note)
    await db.flush()
    db.add(
        NoteVersion(
            note_id=note.id,
            number=1,
            talked_about=text,
            status=NoteStatus.SIGNED,
            created_at=note.created_at,
            updated_at=note.created_at,
            signed_at=note.created_at,
            signed_by_id=worker_id,
        )
    )
    await db.commit()


async def test_with_consent_the_worker_gets_the_summary(web, world, db, clock):
    citizen, worker = world.a.citizen, world.a.worker
    past = await db.get(Appointment, citizen.past_appointment_id)
    past.attendance = "attended"
    await db.commit()
    await signed_note(db, world, clock, world.a.other_citizen, world.a.other_worker.id, "Om en anden borgers søvn")
    await web.login(worker)
    assert f'href="/citizens/{citizen.id}/caseworker-summary"' in await web.page(f"/citizens/{citizen.id}")
    page = text_of(await web.page(f"/citizens/{citizen.id}/caseworker-summary"))
    assert f"Summary for the caseworker about {citizen.name}" in page
    # The signed note is there although it is not shared with the citizen; the draft is not.
    assert not (await db.get(Note, world.a.signed_note_id)).shared_with_citizen
    assert "Vi talte om at sove bedre" in page and "Sluk skærmen kl. 22" in page
    assert "Udkast om ugen" not in page
    assert "Gå en tur hver dag" in page and "Not started" in page
    assert "Attended" in page  # yesterday's visit; tomorrow's appointment is not in the period
    assert f"Agenda for {citizen.name}" not in page
    # Nothing of another citizen.
    assert "Om en anden borgers søvn" not in page and world.a.other_citizen.name not in page
    assert await summaries(db) == [
        (worker.id, "caseworker_export.html", citizen.id, audit.Purpose.CASEWORKER_SHARING, audit.ALLOWED)
    ]
    await web.page(f"/citizens/{citizen.id}/caseworker-summary")
    assert len(await summaries(db)) == 2  # one entry per summary


async def test_without_consent_it_is_refused_and_nothing_leaks(web, world, db, clock):
    citizen = world.a.other_citizen
    await signed_note(db, world, clock, citizen, world.a.other_worker.id, "Hemmelig note om søvn")
    await web.login(world.a.other_worker)
    detail = text_of(await web.page(f"/citizens/{citizen.id}"))
    assert REFUSED in detail and "caseworker-summary" not in await web.page(f"/citizens/{citizen.id}")
    response = await web.get(f"/citizens/{citizen.id}/caseworker-summary")
    body = await response.text()
    assert response.status == 409 and REFUSED in text_of(body)
    assert "Hemmelig note om søvn" not in body and "Summary for the caseworker about" not in body
    assert await summaries(db) == [
        (world.a.other_worker.id, "caseworker_export.html", citizen.id, audit.Purpose.CASEWORKER_SHARING, audit.DENIED)
    ]


async def test_withdrawing_the_consent_blocks_at_once(web, other_web, world, db):
    citizen = world.a.citizen
    await web.login(world.a.worker)
    assert (await web.get(f"/citizens/{citizen.id}/caseworker-summary")).status == 200
    await other_web.open_link(citizen.link_token)
    withdrawn = await other_web.post(
        "/me/consents", {"kind": "caseworker_sharing", "action": "withdraw"}, from_page="/me/consents"
    )
    assert withdrawn.status == 303
    response = await web.get(f"/citizens/{citizen.id}/caseworker-summary")
    assert response.status == 409 and "Vi talte om at sove bedre" not in await response.text()
    assert REFUSED in text_of(await web.page(f"/citizens/{citizen.id}"))
    assert [row[-1] for row in await summaries(db)] == [audit.ALLOWED, audit.DENIED]


@pytest.mark.parametrize(
    "who,citizen,status",
    [("worker", "b", 404), ("other_worker", "a", 404), ("supervisor", "a", 403), ("admin", "a", 403)],
)
async def test_no_one_else_gets_it(web, world, db, who, citizen, status):
    await web.login(getattr(world.a, who))
    target = getattr(world, citizen).citizen
    response = await web.get(f"/citizens/{target.id}/caseworker-summary")
    assert response.status == status
    body = await response.text()
    assert target.name not in body and "Vi talte om at sove bedre" not in body
    assert await summaries(db) == []
