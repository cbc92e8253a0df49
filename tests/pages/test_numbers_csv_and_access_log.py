"""Issue 13, points 3–5, through the pages: numbers in Danish on the supervisor's pages (decimal comma, "100 %",
"65 sekunder"), English by its own rules; CSV files read back as Danish Excel reads them (BOM, ";", decimal
comma, "1.000" is one thousand); and the access log in plain words, with the codes kept in its CSV export."""

from __future__ import annotations

import codecs
import csv
import io
import re

from sqlalchemy import select

from vbostotte.models import AuditEntry
from vbostotte.review import pilot_export

from support import a_held_video_session, read_in_english, reread, text_of

DANISH_NUMBER = re.compile(r"-?\d{1,3}(\.\d{3})*(,\d+)?|-?\d+(,\d+)?")


def read_as_danish_excel(raw: bytes) -> list[list[object]]:
    """The cells as Danish Excel opens the file: UTF-8 only with a BOM, ';' between cells, and a cell that looks like
    a Danish number ("3,7", "1.000" — the point is a thousands separator) becomes a number."""
    assert raw.startswith(codecs.BOM_UTF8), "without a BOM Excel reads the file as Windows-1252"
    text = raw[len(codecs.BOM_UTF8) :].decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))

    def cell(value: str) -> object:
        if DANISH_NUMBER.fullmatch(value):
            return float(value.replace(".", "").replace(",", "."))
        return value

    return [[cell(value) for value in row] for row in rows]


async def test_the_review_pages_write_numbers_in_danish_and_in_english_by_its_own_rules(web, world, db, clock):
    appointment_id = await a_held_video_session(db, world, clock)
    await web.login(world.a.supervisor)
    log = text_of(await web.page(f"/supervisor/appointments/{appointment_id}/log"))
    assert "Varighed 30,1 minutter" in log and "65 sekunder" in log, log
    stats = text_of(await web.page("/supervisor/statistics?period=month"))
    # (text_of folds Babel's no-break space before "%" into a space)
    assert "100 %" in stats and "30,1 minutter" in stats and "65 sekunder" in stats and "0,5 timer" in stats
    assert "30.1" not in stats and "0.5" not in stats
    read_in_english(web)
    log = text_of(await web.page(f"/supervisor/appointments/{appointment_id}/log"))
    assert "30.1 minutes" in log and "after 65 seconds" in log
    stats = text_of(await web.page("/supervisor/statistics?period=month"))
    assert "100%" in stats and "100 %" not in stats and "30.1 minutes" in stats and "0.5 hours" in stats


async def test_the_statistics_and_pilot_csv_open_right_in_danish_excel(web, world, db, clock):
    await a_held_video_session(db, world, clock)
    await web.login(world.a.supervisor)
    response = await web.get("/supervisor/statistics?period=month&format=csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = read_as_danish_excel(await response.read())
    figures = {key: rows[1 + i] for i, (key, *_) in enumerate(pilot_export.FIGURES)}
    assert figures["held"][1] == 1
    assert figures["attendance_rate"][1] == 100  # a percentage, not "1.000" (one thousand to Danish Excel)
    assert figures["attendance_rate"][0].endswith("(%)")
    assert figures["video_median_minutes"][1] == 30.1
    assert figures["video_median_wait_seconds"][1] == 65
    assert figures["video_share_relayed"][1] == 100
    team_header = next(row for row in rows if row and row[0] == "Team")
    team_row = rows[rows.index(team_header) + 1]
    assert team_row[0] == "Team Aarhus"
    assert team_row[team_header.index(next(h for h in team_header if str(h).endswith("(%)")))] == 100

    pilot = read_as_danish_excel(await (await web.get("/supervisor/export?period=month&format=csv")).read())
    by_key = {row[0]: row[1] for row in pilot if row}
    assert by_key["held"] == "<5" and by_key["municipality"] and by_key["period_first"].count("-") == 2
    assert world.a.citizen.name not in str(pilot)


async def test_the_access_log_speaks_plain_language_and_its_export_keeps_the_codes(web, other_web, world, db, clock):
    await other_web.login(world.a.worker)
    assert (await other_web.get(f"/citizens/{world.a.other_citizen.id}")).status == 404  # a denied read
    await web.login(world.a.supervisor)
    page = text_of(await web.page("/supervisor/access-log?denied=1"))
    assert "Så borgerens side" in page and "citizen.view" not in page, page
    assert "Bostøttearbejdet" in page  # the purpose in words, not "support"
    page = text_of(await web.page("/supervisor/access-log"))
    assert "Loggede ind" in page and "auth.login" not in page
    read_in_english(web)
    assert "Saw the citizen's page" in text_of(await web.page("/supervisor/access-log?denied=1"))
    response = await web.get("/supervisor/access-log?denied=1&format=csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = read_as_danish_excel(await response.read())
    header, entries = rows[0], rows[1:]
    assert header[:5] == ["When", "Who", "Role", "Action", "Action code"]
    denied = [row for row in entries if row[header.index("Action code")] == "citizen.view"]
    assert denied and denied[0][header.index("Action")] == "Saw the citizen's page"
    assert denied[0][header.index("Purpose code")] == "support" and denied[0][header.index("Outcome")] == "Denied"
    assert all(row[header.index("Outcome")] == "Denied" for row in entries)
    await reread(db)
    exported = (await db.execute(select(AuditEntry).where(AuditEntry.action == "audit.export"))).scalars().all()
    assert [e.actor_id for e in exported] == [world.a.supervisor.id]
