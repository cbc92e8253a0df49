"""Statistics over a seeded year (≥ 20 workers, ≥ 300 citizens, ≥ 20,000 appointments) equal what Python
computes from the seeded rows themselves — never by the same SQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import statistics as pystats

import pytest
from sqlalchemy import text

from conftest import PG_URL
from vbostotte import db as database
from vbostotte.models import Base
from vbostotte.review import pilot_export
from vbostotte.review.statistics import Period, Scope, compute

from year_of_data import CUTOFF_MINUTES, Year, seed


def _run(coro):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


@pytest.fixture(scope="module")
def year_db(migrated_database, tmp_path_factory) -> tuple[str, Year]:
    """The year, seeded once for this module (a copy of the migrated SQLite template, or PostgreSQL emptied)."""
    if PG_URL:
        url = PG_URL

        async def empty():
            engine = database.create_engine(url)
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
                await conn.execute(
                    text("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, :h)"), {"h": "0" * 64}
                )
            await engine.dispose()

        _run(empty())
    else:
        path = tmp_path_factory.mktemp("year") / "year.db"
        shutil.copy(migrated_database, path)
        url = f"sqlite+aiosqlite:///{path}"

    async def fill():
        engine = database.create_engine(url, immediate=False)
        try:
            return await seed(engine)
        finally:
            await engine.dispose()

    return url, _run(fill())


@pytest.fixture
async def year_session(year_db):
    url, year = year_db
    engine = database.create_engine(url, immediate=False)
    async with database.sessionmaker(engine)() as session:
        yield session, year
    await engine.dispose()


# --- The expected figures, computed in Python from the seeded rows ------------------------------------


def expected(year: Year, team_ids: list[int], worker_id: int | None, period: Period) -> dict:
    rows = [
        a
        for a in year.appointments
        if year.citizen_team[a["citizen_id"]] in team_ids
        and period.starts <= a["starts_at"] < period.ends
        and (worker_id is None or a["worker_id"] == worker_id)
    ]
    ids = {a["id"] for a in rows}
    cancelled = [a for a in rows if a["cancelled_at"] or a["attendance"] in ("cancelled_late", "cancelled_in_time")]
    held = [a for a in rows if not a["cancelled_at"] and a["attendance"] == "attended"]
    no_show = [a for a in rows if not a["cancelled_at"] and a["attendance"] == "no_show"]
    reminded = {m["appointment_id"] for m in year.outbox if m["status"] == "sent" and m["purpose"] == "reminder"}
    groups = {}
    for r in (True, False):
        for c in (True, False):

            def member(a):
                return (a["id"] in reminded) == r and (a["response"] == "confirmed") == c  # noqa: B023 - called at once

            groups[(r, c)] = (sum(map(member, held)), sum(map(member, no_show)))
    cancelled_ids, held_ids, no_show_ids = ({a["id"] for a in group} for group in (cancelled, held, no_show))
    video = {a["id"]: a for a in rows if a["kind"] == "video" and a["id"] not in cancelled_ids}
    by_call: dict[int, list[dict]] = {}
    for e in year.events:
        if e["appointment_id"] in video:
            by_call.setdefault(e["appointment_id"], []).append(e)
    durations, failed, reported, relayed = [], 0, 0, 0
    for events in by_call.values():
        citizen_in = [
            e["at"] for e in events if e["participant"].startswith("citizen-") and e["event"] in ("joined", "admitted")
        ]
        over = [e["at"] for e in events if e["event"] in ("left", "ended")]
        if citizen_in and over and max(over) > min(citizen_in):
            durations.append((max(over) - min(citizen_in)).total_seconds())
        lost = any(e["event"] == "left" and e["details"].get("reason") == "network_lost" for e in events)
        waited = any(e["event"] == "waiting" and e["participant"].startswith("citizen-") for e in events)
        failed += lost or (waited and not citizen_in)
        types = [e["details"]["type"] for e in events if e["event"] == "connection_type"]
        reported += bool(types)
        relayed += "relayed" in types
    waits = [
        e["details"]["waited_seconds"]
        for e in year.events
        if e["appointment_id"] in video and e["event"] == "admitted" and e["participant"].startswith("citizen-")
    ]
    interpreter = [a for a in rows if a["interpreter_name"]]
    cutoff = dt.timedelta(minutes=CUTOFF_MINUTES)
    team_citizens = {
        c
        for c, t in year.citizen_team.items()
        if t in team_ids and (worker_id is None or (worker_id, c) in year.caseloads)
    }
    saved = sum(year.travel.get(year.citizen_team[a["citizen_id"]], 30) for a in held if a["kind"] == "video")
    return {
        "booked": len(rows),
        "held": len(held),
        "cancelled": len(cancelled),
        "no_show": len(no_show),
        "video_held": sum(a["kind"] == "video" for a in held),
        "home_visits_held": sum(a["kind"] == "home_visit" for a in held),
        "groups": groups,
        "video_sessions": len(video),
        "with_call": len(by_call),
        "failed": failed,
        "reported": reported,
        "relayed": relayed,
        "median_duration_minutes": pystats.median(durations) / 60 if durations else None,
        "median_wait": pystats.median(waits) if waits else None,
        "interpreter": (
            len(interpreter),
            sum(a["id"] in held_ids for a in interpreter),
            sum(a["id"] in no_show_ids for a in interpreter),
            sum(1 for a in interpreter if a["cancelled_at"] and a["cancelled_at"] <= a["starts_at"] - cutoff),
        ),
        "checkins": sum(
            1 for c in year.checkins if c["citizen_id"] in team_citizens and period.starts <= c["at"] < period.ends
        ),
        "goals": len(
            {
                g["goal_id"]
                for g in year.goal_events
                if year.goal_citizen[g["goal_id"]] in team_citizens and period.starts <= g["at"] < period.ends
            }
        ),
        "saved": saved,
        "appointment_ids": ids,
    }


def assert_matches(stats, want: dict) -> None:
    t = stats.totals
    assert (t.booked, t.held, t.cancelled, t.no_show, t.video_held, t.home_visits_held) == (
        want["booked"],
        want["held"],
        want["cancelled"],
        want["no_show"],
        want["video_held"],
        want["home_visits_held"],
    )
    assert {(g.reminded, g.confirmed): (g.held, g.no_show) for g in stats.reminders} == want["groups"]
    v = stats.video
    assert (v.sessions, v.with_call, v.failed, v.reported_connection, v.relayed) == (
        want["video_sessions"],
        want["with_call"],
        want["failed"],
        want["reported"],
        want["relayed"],
    )
    assert v.median_duration_minutes == pytest.approx(want["median_duration_minutes"], abs=0.01)
    assert v.median_wait_seconds == pytest.approx(want["median_wait"])
    i = stats.interpreters
    assert (i.booked, i.held, i.no_show, i.released_in_time) == want["interpreter"]
    assert (stats.checkins, stats.goals_achieved) == (want["checkins"], want["goals"])
    assert stats.driving_minutes_saved == want["saved"]


def test_the_seeded_year_is_realistic(year_db):
    _, year = year_db
    assert len(year.workers) >= 20 and len(year.citizen_team) >= 300 and len(year.appointments) >= 20_000
    assert len(year.outbox) > 10_000 and len(year.events) > 20_000


async def test_a_year_for_all_teams_matches_the_seeded_rows(year_session):
    db, year = year_session
    period = Period(dt.date(2025, 11, 24), dt.date(2026, 11, 22))
    stats = await compute(db, Scope(year.municipality_id, tuple(year.team_ids)), period)
    want = expected(year, year.team_ids, None, period)
    assert want["booked"] >= 20_000
    assert_matches(stats, want)
    assert sum(row.counts.booked for row in stats.workers) == want["booked"] and len(stats.workers) == 24
    assert [row.travel_minutes for row in stats.teams] == [30, 45, 20, 60]


@pytest.mark.parametrize(
    "period",
    [
        Period.month_of(dt.date(2026, 3, 10)),
        Period.week_of(dt.date(2026, 3, 30)),
        Period(dt.date(2026, 10, 20), dt.date(2026, 11, 5)),
    ],
    ids=["month across the spring clock change", "week after it", "custom days"],
)
async def test_one_team_and_one_worker_in_a_period_match(year_session, period):
    db, year = year_session
    team = year.team_ids[1]
    stats = await compute(db, Scope(year.municipality_id, (team,)), period)
    assert_matches(stats, expected(year, [team], None, period))
    worker = next(w for w, t in year.workers.items() if t == team)
    stats = await compute(db, Scope(year.municipality_id, (team,), worker), period)
    assert_matches(stats, expected(year, [team], worker, period))
    assert [row.id for row in stats.workers] == [worker]


async def test_another_municipalitys_appointments_never_count(year_session):
    db, year = year_session
    period = Period(dt.date(2025, 11, 24), dt.date(2026, 11, 22))
    foreign = await compute(db, Scope(year.municipality_id, (year.other_team_id,)), period)
    assert foreign.totals.booked == 0  # the other municipality's team, asked for with this municipality's id
    own = await compute(db, Scope(year.other_municipality_id, (year.other_team_id,)), period)
    assert own.totals.booked == expected(year, [year.other_team_id], None, period)["booked"] > 0


async def test_the_pilot_export_suppresses_small_counts(year_session):
    db, year = year_session
    team = year.team_ids[0]
    stats = await compute(db, Scope(year.municipality_id, (team,)), Period(dt.date(2026, 2, 2), dt.date(2026, 2, 2)))
    rows = {key: value for key, _, value in pilot_export.anonymised(stats)}
    raw = {key: value for key, _, value in pilot_export.figures(stats)}
    assert 0 < stats.interpreters.booked < 5 or stats.interpreters.booked == 0
    for key, value in raw.items():
        if key in COUNTS and 0 < int(value) < 5:
            assert rows[key] == "<5", key
        else:
            assert rows[key] in (value, "<5", "x"), key
    assert_nothing_hidden_can_be_worked_out(rows, raw)
    assert rows["held"] == str(stats.totals.held) and stats.totals.held >= 5
    document = pilot_export.pilot_json(stats, "Årskommune")
    text_ = str(document)
    assert "Borger" not in text_ and "Medarbejder" not in text_
    assert set(document["figures"]) == set(rows)


COUNTS = {key for key, _, _, kind, *_ in pilot_export.FIGURES if kind == "count"}


def assert_nothing_hidden_can_be_worked_out(rows: dict, raw: dict) -> None:
    for total, parts in pilot_export.SUMS:
        hidden = [key for key in (total, *parts) if rows[key] in ("<5", "x")]
        assert len(hidden) != 1, hidden  # one hidden member of a sum is the others' difference
    for key, _, _, _kind, _, computed_from in pilot_export.FIGURES:
        if any(rows[source] in ("<5", "x") for source in computed_from):
            assert rows[key] in ("<5", "x"), key
    for key, value in rows.items():
        assert value in ("<5", "x", raw[key]), key


def _stats(booked, held, cancelled, no_show, video_held, home_visits_held, travel=30):
    from vbostotte.review.statistics import Counts, InterpreterStats, ReminderGroup, Row, Statistics, VideoStats

    counts = Counts(
        booked=booked,
        held=held,
        cancelled=cancelled,
        no_show=no_show,
        video_held=video_held,
        home_visits_held=home_visits_held,
    )
    return Statistics(
        period=Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
        totals=counts,
        teams=[Row(1, "Team", counts, travel)],
        workers=[],
        reminders=[ReminderGroup(r, c, held // 4, no_show // 4) for r in (True, False) for c in (True, False)],
        video=VideoStats(),
        interpreters=InterpreterStats(),
    )


@pytest.mark.parametrize(
    "numbers, shown",
    [
        # Three home visits among 30 held: the video sessions (and the driving time they give) are withheld, or
        # held − video sessions would give the home visits away; 2 no-shows make the attendance rate "<5".
        (
            (40, 30, 6, 2, 27, 3),
            {
                "booked": "40",
                "held": "30",
                "cancelled": "6",
                "no_show": "<5",
                "not_recorded": "<5",
                "video_held": "x",
                "home_visits_held": "<5",
                "attendance_rate": "<5",
                "driving_minutes_saved": "x",
            },
        ),
        # One count below 5 in the first sum: the smallest other part is withheld too; everything else is shown.
        (
            (60, 40, 12, 6, 20, 20),
            {
                "booked": "60",
                "held": "40",
                "cancelled": "12",
                "no_show": "x",
                "not_recorded": "<5",
                "video_held": "20",
                "home_visits_held": "20",
                "attendance_rate": "x",
                "driving_minutes_saved": "600",
            },
        ),
        # Nothing small: nothing hidden.
        (
            (60, 40, 12, 8, 20, 20),
            {
                "booked": "60",
                "held": "40",
                "cancelled": "12",
                "no_show": "8",
                "not_recorded": "0",
                "video_held": "20",
                "home_visits_held": "20",
                "attendance_rate": "0.833",
                "driving_minutes_saved": "600",
            },
        ),
    ],
)
def test_no_hidden_count_can_be_worked_out_from_the_pilot_export(numbers, shown):
    stats = _stats(*numbers)
    rows = {key: value for key, _, value in pilot_export.anonymised(stats)}
    assert {key: rows[key] for key in shown} == shown
    assert_nothing_hidden_can_be_worked_out(rows, {key: value for key, _, value in pilot_export.figures(stats)})
