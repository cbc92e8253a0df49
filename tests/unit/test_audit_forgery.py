"""Forgery by someone who can write the database: the audit log's and the consent events' chains are keyed
(HMAC with a key outside the database), their heads are anchored outside it, and on PostgreSQL the application's
role may only append to them (migration 0015).

Each forged chain is made on a copy of the database (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on
PostgreSQL) by its owner with the triggers off, and must be reported both by the verifier and by
``vbostotte verify-audit`` (exit code 1, "BROKEN"). The command runs in this process for each forged chain
(support.vbostotte_command); as a program of its own once, with ``--anchors``
(test_verify_audit_reads_anchors_from_a_json_log_export_too).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from vbostotte import audit, cli
from vbostotte import db as database
from vbostotte.actors import Actor
from vbostotte.audit import anchors as audit_anchors
from vbostotte.audit import keys as audit_keys
from vbostotte.config import SettingsError, load_settings
from vbostotte.models import AuditEntry, AuditHead, ConsentEvent, ConsentHead
from vbostotte.privacy import consent

from support import vbostotte_command

ACTOR = Actor(kind="staff", id=7, municipality_id=1, role="worker", name="Anna")
Kind = consent.Kind


async def _append(engine, count: int, keyring: audit_keys.Keyring | None = None) -> None:
    async with database.sessionmaker(engine, keyring)() as session, session.begin():
        for i in range(count):
            await audit.record(session, ACTOR, audit.AuditEvent("citizen.view", audit.Purpose.SUPPORT, citizen_id=i))


def _keyring(*keys: str) -> audit_keys.Keyring:
    """The last key current, the others retired."""
    return audit_keys._load(keys[-1], ",".join(keys[:-1]), Path("/nonexistent"), False)


OLD_KEY, NEW_KEY = "k1:" + "o" * 40, "k2:" + "n" * 40


# --- Keys ------------------------------------------------------------------------------------------


async def test_entries_and_events_are_keyed_and_a_plain_sha256_no_longer_fits(world, db):
    entries = (await db.execute(select(AuditEntry))).scalars().all()
    events = (await db.execute(select(ConsentEvent))).scalars().all()
    assert entries and events
    assert {e.key_id for e in entries} == {"test"} and {e.key_id for e in events} == {"test"}
    keyring = audit_keys.of_session(db)
    assert keyring.current_id == "test"
    for entry in entries:
        assert audit.entry_hash(entry, keyring.key("test", "audit")) == entry.hash
        assert audit.entry_hash(entry) != entry.hash  # unkeyed SHA-256: what a forger could compute
    for event in events:
        assert consent.event_hash(event, keyring.key("test", "consent")) == event.hash
    # Each chain has a key of its own, derived from the one secret.
    assert keyring.key("test", "audit") != keyring.key("test", "consent")
    assert "audit-key" not in repr(keyring)  # never the secret


def test_the_keyed_row_hash_is_pinned():
    """HMAC-SHA-256 over the canonical row form (the pinned unkeyed one, tests/unit/test_audit_chain.py) plus the key
    id, with a key derived per chain: HMAC-SHA-256(secret, "vbostotte chain key:" + chain). Stored hashes depend on
    exactly this, so known rows must keep these values."""
    import hashlib
    import hmac

    keyring = _keyring("pin:" + "p" * 40)
    entry = AuditEntry(
        id=7,
        at=dt.datetime(2026, 11, 23, 8, 0, 1, 250000, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        municipality_id=1,
        actor_kind="staff",
        actor_id=3,
        actor_role="worker",
        action="citizen.read",
        citizen_id=5,
        object_type=None,
        object_id=None,
        purpose="support",
        outcome="allowed",
        prev_hash="a" * 64,
        key_id="pin",
    )
    pinned = "6ac8e1b6f7d510a1c4499b1fa1f124e06fd9b689ef2b8400125de16b199b7bde"
    assert audit.entry_hash(entry, keyring.key("pin", "audit")) == pinned
    key = hmac.new(b"p" * 40, b"vbostotte chain key:audit", hashlib.sha256).digest()
    message = (
        '[7,"2026-11-23T07:00:01.250000Z",1,"staff",3,"worker","citizen.read",5,null,null,"support",'
        '"allowed","' + "a" * 64 + '","pin"]'
    ).encode()
    assert hmac.new(key, message, hashlib.sha256).hexdigest() == pinned
    event = ConsentEvent(
        municipality_id=1,
        seq=2,
        at=dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC),
        citizen_id=5,
        kind_id=4,
        kind_code="relative_in_calls",
        version_id=9,
        version=1,
        text_sha256="b" * 64,
        action="given",
        how="in_person",
        recorded_by_kind="staff",
        recorded_by_id=3,
        prev_hash="0" * 64,
        key_id="pin",
    )
    assert consent.event_hash(event, keyring.key("pin", "consent")) == (
        "6abcb2cd1dc748b6f8b0df15e626cc1f88266afbfcb21a2e1da5261fc5e556d3"
    )


async def test_a_rotated_key_keeps_older_entries_verifiable(database_url, db):
    engine = database.create_engine(database_url)
    try:
        await _append(engine, 3, _keyring(OLD_KEY))
        await _append(engine, 2, _keyring(OLD_KEY, NEW_KEY))  # rotated: k2 current, k1 retired
    finally:
        await engine.dispose()
    report = await audit.verify_chain(db, keyring=_keyring(OLD_KEY, NEW_KEY))
    assert report.ok and report.checked == 5
    assert report.segments == (("k1", 1, 3), ("k2", 4, 5))
    assert report.describe_keys() == "key k1 1-3; key k2 4-5"
    missing_old = await audit.verify_chain(db, keyring=_keyring(NEW_KEY))
    assert not missing_old.ok and missing_old.first_broken_id == 1 and "'k1', which was not given" in missing_old.reason
    wrong_secret = await audit.verify_chain(db, keyring=_keyring("k1:" + "x" * 40, NEW_KEY))
    assert not wrong_secret.ok and wrong_secret.first_broken_id == 1 and "changed" in wrong_secret.reason


def test_the_key_file_is_made_once_private_and_rotated_by_appending(tmp_path):
    settings = load_settings({}, data_dir=tmp_path)
    assert audit_keys.load(settings, create=False).current_id is None  # verifying never makes a key
    first = audit_keys.load(settings)
    path = tmp_path / audit_keys.KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600 and audit_keys.load(settings) == first
    new_id, line = audit_keys.rotate(settings)
    assert line is None and new_id != first.current_id
    rotated = audit_keys.load(settings)
    assert rotated.current_id == new_id and rotated.ids == [first.current_id, new_id]
    assert rotated.key(first.current_id, "audit") == first.key(first.current_id, "audit")
    assert path.stat().st_mode & 0o777 == 0o600 and len(path.read_text().splitlines()) == 2
    # With VB_AUDIT_KEY the file is not used; rotating prints the key to set instead of changing anything.
    configured = dataclasses.replace(settings, audit_key=NEW_KEY, audit_retired_keys=OLD_KEY)
    assert audit_keys.load(configured).ids == ["k1", "k2"]
    other_id, other_line = audit_keys.rotate(configured)
    assert other_line.startswith(other_id + ":") and len(path.read_text().splitlines()) == 2
    for bad in ("nocolon", "k:short", "bad id:" + "x" * 40):
        with pytest.raises(SettingsError, match="VB_AUDIT_KEY"):
            audit_keys.load(dataclasses.replace(settings, audit_key=bad))
    with pytest.raises(SettingsError, match="twice with different secrets"):
        audit_keys.load(dataclasses.replace(settings, audit_key=NEW_KEY, audit_retired_keys="k2:" + "z" * 40))


def test_a_malformed_key_stops_the_command_with_a_configuration_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VB_AUDIT_KEY", "short:secret")
    assert cli.main(["verify-audit"]) == 2
    assert "Configuration error: VB_AUDIT_KEY" in capsys.readouterr().err


async def test_entries_made_before_keys_are_accepted_only_before_the_first_keyed_one(tmp_path):
    """An installation upgraded to 0015: its unkeyed entries and events verify, keyed ones follow them."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = database.create_engine(url)
    try:
        await database.migrate(engine, "0014")
        async with engine.begin() as conn:  # what the code before keys wrote: plain SHA-256, no key id
            prev = audit.GENESIS
            for i in range(1, 4):
                row = SimpleNamespace(
                    id=i,
                    at=dt.datetime(2026, 1, 5, 9, i, tzinfo=dt.UTC),
                    municipality_id=1,
                    actor_kind="staff",
                    actor_id=7,
                    actor_role="worker",
                    action="citizen.view",
                    citizen_id=i,
                    object_type=None,
                    object_id=None,
                    purpose="support",
                    outcome="allowed",
                    prev_hash=prev,
                )
                row.hash = audit.entry_hash(row)
                await conn.execute(AuditEntry.__table__.insert().values(**{c: getattr(row, c) for c in vars(row)}))
                prev = row.hash
            await conn.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=3, last_hash=prev))
        await database.migrate(engine)
        await _append(engine, 2)
        async with database.sessionmaker(engine)() as session:
            report = await audit.verify_chain(session)
            assert report.ok and report.segments == ((None, 1, 3), ("test", 4, 5))
            # An unkeyed entry after keyed ones is someone without the key (the head moved forward with it).
            await session.rollback()
            await session.begin()
            last = (await session.execute(select(AuditEntry).where(AuditEntry.id == 5))).scalar_one()
            forged = SimpleNamespace(**{c.name: getattr(last, c.name) for c in AuditEntry.__table__.columns})
            forged.id, forged.prev_hash, forged.key_id = 6, last.hash, None
            forged.hash = audit.entry_hash(forged)
            await session.execute(AuditEntry.__table__.insert().values(**vars(forged)))
            await session.execute(update(AuditHead).values(last_id=6, last_hash=forged.hash))
            report = await audit.verify_chain(session)
            await session.rollback()
            assert not report.ok and report.first_broken_id == 6 and "unkeyed" in report.reason
    finally:
        await engine.dispose()


# --- Anchors ---------------------------------------------------------------------------------------


async def test_the_app_anchors_both_chains_at_start_and_at_shutdown(world, settings, aiohttp_client, caplog, db):
    from vbostotte.app import create_app

    caplog.set_level(logging.INFO, logger="vbostotte.audit.anchor")
    consent_heads = {
        h.municipality_id: (h.last_seq, h.last_hash)
        for h in (await db.execute(select(ConsentHead))).scalars()
        if h.last_seq
    }
    assert world.a.id in consent_heads
    client = await aiohttp_client(create_app(settings))
    path = settings.data_dir / audit_anchors.ANCHOR_FILE
    at_start = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted((a["chain"], a.get("municipality_id", 0)) for a in at_start) == sorted(
        [("audit", 0)] + [("consent", m) for m in consent_heads]
    )
    await client.get("/login")
    await client.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 2 * len(at_start)  # and again at shutdown
    await db.rollback()
    head = await db.get(AuditHead, 1)
    last_audit = [line for line in lines if line["chain"] == "audit"][-1]
    assert (last_audit["last_id"], last_audit["hash"]) == (head.last_id, head.last_hash)
    for line in lines[len(at_start) :]:
        if line["chain"] == "consent":
            assert (line["last_seq"], line["hash"]) == consent_heads[line["municipality_id"]]
    assert path.stat().st_mode & 0o777 == 0o600
    records = [r for r in caplog.records if r.name == "vbostotte.audit.anchor"]
    assert [r.anchor for r in records] == lines  # the same anchors went to the log
    from vbostotte.operations import logging_setup

    shipped = json.loads(logging_setup.JsonFormatter().format(records[0]))
    assert shipped["anchor"] == lines[0] and shipped["logger"] == "vbostotte.audit.anchor"


async def test_the_anchoring_interval_writes_only_heads_that_moved(database_url, tmp_path):
    engine = database.create_engine(database_url)
    try:
        await _append(engine, 2)
        writer = audit_anchors.Anchoring(database.sessionmaker(engine), tmp_path / "anchors.jsonl")
        assert [a.last for a in await writer.anchor()] == [2]
        assert await writer.anchor() == []  # nothing moved
        await _append(engine, 1)
        stop = asyncio.Event()
        task = asyncio.create_task(writer.run(0.05, stop))
        for _ in range(100):
            if len((tmp_path / "anchors.jsonl").read_text().splitlines()) == 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
    finally:
        await engine.dispose()
    lines = [json.loads(line) for line in (tmp_path / "anchors.jsonl").read_text().splitlines()]
    assert [line["last_id"] for line in lines] == [2, 3]


# --- Forged chains, on a copy of the database -------------------------------------------------------


@dataclasses.dataclass
class Chain:
    """One chain as its rows (dicts, in order), and how to write it back."""

    name: str  # "audit" or "consent"
    municipality_id: int | None

    @property
    def table(self):
        return AuditEntry.__table__ if self.name == "audit" else ConsentEvent.__table__

    @property
    def position(self) -> str:
        return "id" if self.name == "audit" else "seq"

    def unkeyed_hash(self, row: dict) -> str:
        fake = SimpleNamespace(**row)
        return audit.entry_hash(fake) if self.name == "audit" else consent.event_hash(fake)

    def where(self):
        return () if self.name == "audit" else (self.table.c.municipality_id == self.municipality_id,)

    async def rows(self, conn) -> list[dict]:
        result = await conn.execute(select(self.table).where(*self.where()).order_by(self.table.c[self.position]))
        return [dict(r._mapping) for r in result]

    async def write(self, conn, rows: list[dict], head: tuple[int, str] | None) -> None:
        await conn.execute(delete(self.table).where(*self.where()))
        for row in rows:
            await conn.execute(self.table.insert().values(**row))
        if head is None:
            return
        if self.name == "audit":
            await conn.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=head[0], last_hash=head[1]))
        else:
            await conn.execute(
                update(ConsentHead)
                .where(ConsentHead.municipality_id == self.municipality_id)
                .values(last_seq=head[0], last_hash=head[1])
            )


def _edit(chain: Chain, rows: list[dict]) -> list[dict]:
    target = rows[2]
    if chain.name == "audit":
        target["outcome"] = "denied" if target["outcome"] == "allowed" else "allowed"
    else:
        target["action"] = "given" if target["action"] == "withdrawn" else "withdrawn"
    return rows


def _delete(chain: Chain, rows: list[dict]) -> list[dict]:
    return rows[:4] + rows[5:]


def _reorder(chain: Chain, rows: list[dict]) -> list[dict]:
    """Rows 3 and 6 swap places (their ids, or numbers, are swapped)."""
    first, second = rows[2], rows[5]
    first[chain.position], second[chain.position] = second[chain.position], first[chain.position]
    rows[2], rows[5] = second, first
    return rows


def _truncate(chain: Chain, rows: list[dict]) -> list[dict]:
    return rows[:-3]


def _append_row(chain: Chain, rows: list[dict]) -> list[dict]:
    extra = dict(rows[-1])
    if chain.name == "audit":
        extra.update(id=extra["id"] + 1, action="citizen.view", outcome="allowed")
    else:
        extra.update(id=max(r["id"] for r in rows) + 1000, action="given")
    extra[chain.position] = rows[-1][chain.position] + 1
    extra.update(prev_hash=rows[-1]["hash"], key_id=None)
    extra["hash"] = chain.unkeyed_hash(extra)
    return rows + [extra]


TAMPERINGS = {
    "edit a row": _edit,
    "delete a row": _delete,
    "reorder two rows": _reorder,
    "truncate the tail": _truncate,
    "append a row with an unkeyed hash": _append_row,
}


async def _forge(url: str, chain: Chain, tampering: str, forger: bool) -> None:
    """Tamper as the database's owner with the triggers off: change only the rows, or (``forger``) cover the
    traces too — move the head to the new end (a cut tail, an appended row), or renumber and recompute every
    hash from the first row with plain SHA-256, all a forger without the key can compute (edit, delete,
    reorder)."""
    engine = database.create_engine(url)
    try:
        async with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                triggers = (
                    (
                        await conn.execute(
                            text(
                                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                                "('audit_entries', 'audit_head', 'consent_events', 'consent_heads')"
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
                for name in triggers:
                    await conn.execute(text(f"DROP TRIGGER {name}"))
            else:
                await conn.execute(text("SET LOCAL session_replication_role = replica"))
            rows = TAMPERINGS[tampering](chain, await chain.rows(conn))
            head = None
            if forger and tampering in ("truncate the tail", "append a row with an unkeyed hash"):
                head = (rows[-1][chain.position], rows[-1]["hash"])  # the head moved to the new end
            elif forger:
                prev = audit.GENESIS if chain.name == "audit" else consent.GENESIS
                for number, row in enumerate(rows, 1):
                    row.update({chain.position: number, "prev_hash": prev, "key_id": None})
                    row["hash"] = prev = chain.unkeyed_hash(row)
                head = (len(rows), prev)
            await chain.write(conn, rows, head)
    finally:
        await engine.dispose()


async def _copy(database_url: str, tmp_path: Path, name: str) -> str:
    if database_url.startswith("sqlite"):
        target = tmp_path / f"{name}.db"
        shutil.copy(make_url(database_url).database, target)
        return f"sqlite+aiosqlite:///{target}"
    source = make_url(database_url)
    copy = f"{source.database}_{name}"
    admin = create_async_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}"'))
            # A template is copied only while nobody else is connected to it. The database is this test worker's
            # own and this test has let go of it, so what is still connected is an idle pool left by an earlier
            # test of this worker: close those connections.
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": source.database},
            )
            await conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{source.database}"'))
    finally:
        await admin.dispose()
    return source.set(database=copy).render_as_string(hide_password=False)


async def _drop_copy(url: str) -> None:
    if url.startswith("sqlite"):
        return
    parsed = make_url(url)
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def _verify(url: str, anchors: list) -> tuple[audit.ChainReport, consent.Broken | None]:
    engine = database.create_engine(url, immediate=False)
    try:
        async with database.sessionmaker(engine)() as session:
            return (
                await audit.verify_chain(session, anchors=anchors),
                await consent.verify_chain(session, anchors=anchors),
            )
    finally:
        await engine.dispose()


async def _verify_audit_command(url: str, data_dir: Path) -> tuple[int, str]:
    """``vbostotte verify-audit`` (the default anchor file in ``data_dir``), in this process: exit code and output."""
    env = {"VB_DATABASE_URL": url, "VB_DATA_DIR": str(data_dir)}
    return await asyncio.to_thread(vbostotte_command, env, "verify-audit")


async def _chains_with_anchors(world, engine, clock, data_dir: Path) -> None:
    """More audit entries and consent events in municipality a, anchored half-way and at the end."""
    writer = audit_anchors.Anchoring(database.sessionmaker(engine), data_dir / audit_anchors.ANCHOR_FILE)
    for _round in range(2):
        await _append(engine, 6)
        async with database.sessionmaker(engine)() as session, session.begin():
            for i in range(4):
                change = consent.give if i % 2 == 0 else consent.withdraw
                await change(
                    session, world.a.other_worker.actor, world.a.other_citizen.id, Kind.VIDEO, "phone", clock()
                )
        await writer.anchor()


@pytest.mark.parametrize("chain_name", ["audit", "consent"])
async def test_every_forged_chain_is_reported_by_the_verifier_and_the_command(
    world, engine, clock, database_url, tmp_path, chain_name
):
    await _chains_with_anchors(world, engine, clock, tmp_path)
    await engine.dispose()  # PostgreSQL copies its template only while nobody is connected to it
    chain = Chain(chain_name, None if chain_name == "audit" else world.a.id)
    anchors = audit_anchors.read([tmp_path / audit_anchors.ANCHOR_FILE]).anchors
    # Half-way: the audit log and both municipalities' consent chains; at the end only the heads that moved.
    assert len(anchors) == 5
    kind = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"

    control = await _copy(database_url, tmp_path, f"control_{chain_name}")
    try:
        report, broken = await _verify(control, anchors)
        assert report.ok and broken is None and report.anchors == 2
        code, printed = await _verify_audit_command(control, tmp_path)
        assert code == 0 and "anchors: 5 read" in printed, printed
    finally:
        await _drop_copy(control)

    detected, forged, unseen_without_anchors = [], 0, []
    for number, (tampering, forger) in enumerate((t, f) for t in TAMPERINGS for f in (False, True)):
        label = f"{tampering} ({'traces covered' if forger else 'rows only'})"
        copy = await _copy(database_url, tmp_path, f"forged_{chain_name}_{number}")
        try:
            await _forge(copy, chain, tampering, forger)
            forged += 1
            report, broken = await _verify(copy, anchors)
            found = (not report.ok) if chain_name == "audit" else broken is not None
            other_intact = broken is None if chain_name == "audit" else report.ok
            without_anchors = await _verify(copy, [])
            if without_anchors[0].ok if chain_name == "audit" else without_anchors[1] is None:
                unseen_without_anchors.append(label)
            code, printed = await _verify_audit_command(copy, tmp_path)
            reported = code == 1 and f"{chain_name} chain BROKEN" in printed
            assert other_intact, label
            if found and reported:
                detected.append(label)
                print(f"  {label}: {report if chain_name == 'audit' else broken}")
            else:
                print(f"NOT DETECTED: {label}: {report} / {broken} / {printed}")
        finally:
            await _drop_copy(copy)
    print(
        f"\n{chain_name} chain on {kind}: {len(detected)} of {forged} forged chains detected "
        f"(without the anchors {forged - len(unseen_without_anchors)} of {forged}: the rest are "
        f"{'; '.join(unseen_without_anchors)})"
    )
    assert forged == 10 and len(detected) == forged
    # The anchors are what finds a chain rewritten from its first row, or cut with its head moved back.
    assert set(unseen_without_anchors) == {
        f"{t} (traces covered)" for t in ("edit a row", "delete a row", "reorder two rows", "truncate the tail")
    }


async def test_verify_audit_reads_anchors_from_a_json_log_export_too(world, engine, clock, database_url, tmp_path):
    """The log collector's copy (JSON lines with an ``anchor`` field) serves when the anchor file is gone."""
    await _chains_with_anchors(world, engine, clock, tmp_path)
    await engine.dispose()
    export = tmp_path / "shipped.log"
    anchor_lines = (tmp_path / audit_anchors.ANCHOR_FILE).read_text().splitlines()
    export.write_text(
        "\n".join(
            [json.dumps({"level": "INFO", "logger": "aiohttp.access", "message": "GET / 200"})]
            + [
                json.dumps(
                    {
                        "level": "INFO",
                        "logger": "vbostotte.audit.anchor",
                        "message": "audit chain anchor",
                        "anchor": json.loads(line),
                    }
                )
                for line in anchor_lines
            ]
        )
        + "\n"
    )
    (tmp_path / audit_anchors.ANCHOR_FILE).unlink()
    copy = await _copy(database_url, tmp_path, "shipped")
    try:
        await _forge(copy, Chain("audit", None), "truncate the tail", forger=True)
        code, printed = await _verify_audit_command(copy, tmp_path)
        assert code == 0 and "anchors: none" in printed  # cut cleanly: unseen without anchors
        env = {**os.environ, "VB_DATABASE_URL": copy, "VB_DATA_DIR": str(tmp_path)}
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "vbostotte", "verify-audit", "--anchors", str(export)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1 and "audit chain BROKEN" in done.stdout and "truncated" in done.stdout
    finally:
        await _drop_copy(copy)


# --- The database's own refusals -----------------------------------------------------------------


async def test_the_heads_only_move_forward(world, database_url):
    engine = database.create_engine(database_url)
    try:
        for statement in (
            "UPDATE audit_head SET last_id = last_id - 1",
            "UPDATE audit_head SET last_hash = '" + "f" * 64 + "'",
            "DELETE FROM audit_head",
            f"UPDATE consent_heads SET last_seq = last_seq - 1 WHERE municipality_id = {world.a.id}",
            f"DELETE FROM consent_heads WHERE municipality_id = {world.a.id}",
        ):
            async with database.sessionmaker(engine)() as session:
                with pytest.raises(DBAPIError, match="only moves forward"):
                    async with session.begin():
                        await session.execute(text(statement))
    finally:
        await engine.dispose()


async def test_the_application_role_may_append_to_the_chains_but_not_change_or_remove_them(
    world, database_url, settings, clock
):
    if database_url.startswith("sqlite"):
        pytest.skip("the role split is PostgreSQL's (SQLite has no roles): it runs in the PostgreSQL pass")
    engine = database.create_engine(database_url)

    async def as_app(statement: str | None = None, work=None):
        """As the application's role, in a transaction that is rolled back."""
        async with database.sessionmaker(engine)() as session:
            await session.begin()
            try:
                await session.execute(text("SET LOCAL ROLE vbostotte_app"))
                if statement:
                    await session.execute(text(statement))
                if work:
                    await work(session)
            finally:
                await session.rollback()

    try:
        # What the application does: audit entries, consent events (and their heads), ordinary tables.
        async def app_work(session):
            await audit.record(session, ACTOR, audit.AuditEvent("citizen.view", audit.Purpose.SUPPORT))
            await consent.withdraw(
                session, world.a.other_worker.actor, world.a.other_citizen.id, Kind.VIDEO, "phone", clock()
            )
            await consent.give(
                session, world.a.other_worker.actor, world.a.other_citizen.id, Kind.VIDEO, "phone", clock()
            )
            await session.execute(text("UPDATE citizens SET preferred_name = preferred_name"))
            await session.execute(text("DELETE FROM login_failures"))
            assert (await audit.verify_chain(session)).ok and await consent.verify_chain(session) is None

        await as_app(work=app_work)
        refused = []
        for statement in (
            "UPDATE audit_entries SET outcome = 'denied' WHERE id = 1",
            "DELETE FROM audit_entries WHERE id = 1",
            "TRUNCATE audit_entries",
            "UPDATE consent_events SET action = 'given' WHERE seq = 1",
            "DELETE FROM consent_events",
            "TRUNCATE consent_events",
            "UPDATE consent_versions SET text_da = 'x'",
            "TRUNCATE consent_versions",
            "DELETE FROM audit_head",
            "TRUNCATE audit_head",
            "DELETE FROM consent_heads",
            "UPDATE alembic_version SET version_num = '0001'",
            "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only",
            "DROP TRIGGER audit_head_forward ON audit_head",
        ):
            with pytest.raises(DBAPIError) as raised:
                await as_app(statement)
            assert "permission denied" in str(raised.value) or "must be owner" in str(raised.value), statement
            refused.append(statement)
        with pytest.raises(DBAPIError, match="only moves forward"):  # UPDATE is granted, moving back is not
            await as_app("UPDATE audit_head SET last_id = last_id - 1")
        assert len(refused) == 14
    finally:
        await engine.dispose()
