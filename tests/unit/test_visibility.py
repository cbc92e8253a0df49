"""Who may see which citizen: the rule with the actor's values and its form built once with parameters agree."""

from __future__ import annotations

from vbostotte import access
from vbostotte.actors import Actor


def _actors(world) -> dict[str, Actor]:
    actors = {}
    for label, municipality in (("a", world.a), ("b", world.b)):
        for key in ("admin", "supervisor", "worker", "other_worker"):
            actors[f"{label}.{key}"] = getattr(municipality, key).actor
        for key in ("citizen", "other_citizen"):
            person = getattr(municipality, key)
            actors[f"{label}.{key}"] = Actor(
                kind="citizen", id=person.id, municipality_id=person.municipality_id, role="citizen"
            )
    return actors


async def test_the_rule_built_once_selects_what_the_rule_with_values_selects(world, db):
    seen = {}
    for name, actor in _actors(world).items():
        rule, values = access.visibility(actor)
        with_values = set((await db.execute(access.visible_citizens(actor))).scalars())
        built_once = set((await db.execute(access.visible_citizens_by_rule(rule), values)).scalars())
        assert built_once == with_values, name
        ids = set((await db.execute(access.visible_citizen_ids(actor))).scalars())
        assert set((await db.execute(access.visible_citizen_ids_by_rule(rule), values)).scalars()) == ids, name
        assert ids == {citizen.id for citizen in with_values}, name
        seen[name] = ids
    a = world.a
    assert seen["a.worker"] == {a.citizen.id} and seen["a.other_worker"] == {a.other_citizen.id}
    assert seen["a.supervisor"] == {a.citizen.id, a.other_citizen.id}
    assert seen["a.admin"] == set() and seen["a.citizen"] == {a.citizen.id}
    assert not seen["b.supervisor"] & seen["a.supervisor"]
