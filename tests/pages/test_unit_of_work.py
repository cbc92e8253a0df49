"""One transaction per request: an error — raised or returned as an error page — leaves nothing written,
except what is explicitly kept (a denied-access audit entry, a failed login)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from vbostotte import audit
from vbostotte.actors import ANONYMOUS
from vbostotte.errors import InvalidInput
from vbostotte.models import AuditEntry, Team
from vbostotte.web import base
from vbostotte.web.middlewares import keep_after_rollback

from support import reread


async def _count(db, model) -> int:
    await reread(db)
    return (await db.execute(select(func.count()).select_from(model))).scalar_one()


def _handlers(world):
    async def write_then(request: web.Request, status: int, keep: bool = False) -> web.Response:
        base.db(request).add(Team(municipality_id=world.a.id, name=f"Half-made {status}"))
        await base.db(request).flush()
        if keep:
            error = InvalidInput({"name": "x"}).then(
                lambda fresh: audit.record(
                    fresh, ANONYMOUS, audit.AuditEvent("test.kept", audit.Purpose.ADMINISTRATION, audit.DENIED)
                )
            )
            keep_after_rollback(request, error)
        return web.Response(status=status, text="done")

    async def returns_ok(request):
        return await write_then(request, 200)

    async def returns_422(request):
        return await write_then(request, 422, keep=True)

    async def raises(request):
        await write_then(request, 200)
        raise InvalidInput({"name": "This field is required."})

    return returns_ok, returns_422, raises


async def test_error_responses_and_errors_roll_back_and_keep_only_what_is_kept(aiohttp_client, app, world, db, clock):
    returns_ok, returns_422, raises = _handlers(world)
    app.router.add_get("/test/ok", returns_ok)
    app.router.add_get("/test/422", returns_422)
    app.router.add_get("/test/raises", raises)
    client = await aiohttp_client(app)
    teams, entries = await _count(db, Team), await _count(db, AuditEntry)

    assert (await client.get("/test/422")).status == 422
    assert await _count(db, Team) == teams  # the half-made team was rolled back…
    assert await _count(db, AuditEntry) == entries + 1  # …and the kept entry written afterwards
    assert (await client.get("/test/raises")).status == 422
    assert await _count(db, Team) == teams
    assert (await client.get("/test/ok")).status == 200
    assert await _count(db, Team) == teams + 1
