"""Session notes, below the pages: the database itself keeps a signed version final, and the service rules."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from vbostotte.care import notes
from vbostotte.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from vbostotte.models import NoteStatus, NoteVersion

from support import reread


async def test_the_database_refuses_to_change_a_signed_version(world, db):
    """Defence in depth: even a direct UPDATE (a bug, a console) cannot change a signed version."""
    a = world.a
    version_id = (await db.execute(select(NoteVersion.id).where(NoteVersion.note_id == a.signed_note_id))).scalar_one()
    with pytest.raises(DBAPIError, match="a signed note version is final"):
        await db.execute(
            text("UPDATE note_versions SET talked_about = 'forfalsket' WHERE id = :id"), {"id": version_id}
        )
    await db.rollback()
    with pytest.raises(DBAPIError, match="a signed note version is final"):
        await db.execute(text("UPDATE note_versions SET status = 'draft' WHERE id = :id"), {"id": version_id})
    await db.rollback()
    with pytest.raises(DBAPIError, match="a signed note version is final"):
        await db.execute(
            text("INSERT INTO note_version_goals (version_id, goal_id) VALUES (:v, :g)"),
            {"v": version_id, "g": a.goal_id},
        )
    await db.rollback()
    draft_id = (await db.execute(select(NoteVersion.id).where(NoteVersion.note_id == a.note_id))).scalar_one()
    await db.execute(text("UPDATE note_versions SET talked_about = 'ok' WHERE id = :id"), {"id": draft_id})
    await db.commit()  # a draft may change
    await reread(db)
    assert (await db.get(NoteVersion, version_id)).talked_about == "Vi talte om at sove bedre"


async def test_sign_then_amend_then_sign_again(world, db, clock):
    a, author = world.a, world.a.worker.actor
    await notes.save_draft(
        db,
        author,
        a.note_id,
        notes.NoteText("Talte om ugen", "Ring torsdag", ""),
        clock(),
        goal_ids=[a.goal_id],
        shared=True,
    )
    first = await notes.sign(db, author, a.note_id, clock())
    with pytest.raises(Conflict):
        await notes.save_draft(db, author, a.note_id, notes.NoteText("Ændret"), clock())
    with pytest.raises(Conflict):
        await notes.sign(db, author, a.note_id, clock())
    clock.advance(hours=1)
    second = await notes.amend(db, author, a.note_id, "Aftalen var fredag", clock())
    assert (second.number, second.status, second.talked_about, second.amends_reason) == (
        2,
        NoteStatus.DRAFT,
        "Talte om ugen",
        "Aftalen var fredag",
    )
    assert [g.id for g in (await notes.goals_of(db, [second.id]))[second.id]] == [a.goal_id]  # carried over
    with pytest.raises(Conflict):
        await notes.amend(db, author, a.note_id, "igen", clock())  # one open draft at a time
    await notes.save_draft(db, author, a.note_id, notes.NoteText("Talte om ugen", "Ring fredag", ""), clock())
    await notes.sign(db, author, a.note_id, clock())
    await db.commit()
    assert [
        (v.number, v.status, v.agreements) for v in await notes.versions(db, await db.get(notes.Note, a.note_id))
    ] == [(1, NoteStatus.SIGNED, "Ring torsdag"), (2, NoteStatus.SIGNED, "Ring fredag")]
    assert first.signed_by_id == author.id


async def test_only_the_author_writes_and_only_readers_read(world, db, clock):
    a = world.a
    with pytest.raises(PermissionDenied):  # a supervisor reads the team's notes but does not write them
        await notes.save_draft(db, a.supervisor.actor, a.note_id, notes.NoteText("x"), clock())
    with pytest.raises(NotFound):  # not on the caseload: cannot even see it
        await notes.save_draft(db, a.other_worker.actor, a.note_id, notes.NoteText("x"), clock())
    with pytest.raises(InvalidInput):  # another citizen's goal
        await notes.save_draft(db, a.worker.actor, a.note_id, notes.NoteText("x"), clock(), goal_ids=[world.b.goal_id])
    await notes.save_draft(db, a.worker.actor, a.note_id, notes.NoteText(""), clock())
    with pytest.raises(InvalidInput):
        await notes.sign(db, a.worker.actor, a.note_id, clock())  # nothing written yet
