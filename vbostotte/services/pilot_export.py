"""Statistics as tables to download: the supervisor's full CSV, and the anonymised pilot export.

The pilot export is for comparing municipalities or periods: aggregate figures only, no names and no
ids, and every count below 5 shown as "<5" (a share or median resting on fewer than 5 cases too), so
no citizen can be singled out.
"""

from __future__ import annotations

import csv
import io
from typing import Callable

from vbostotte.i18n import N_, gettext
from vbostotte.services.statistics import Counts, Statistics

SMALL = 5
SUPPRESSED = "<5"

# (key, label, how to read it from the statistics, kind): kind "count", or "share"/"median" with the count
# that the figure rests on (for suppression).
Figure = tuple[str, str, Callable[[Statistics], float | None], str, Callable[[Statistics], int] | None]
FIGURES: list[Figure] = [
    ("booked", N_("Appointments booked"), lambda s: s.totals.booked, "count", None),
    ("held", N_("Appointments held"), lambda s: s.totals.held, "count", None),
    ("cancelled", N_("Cancelled"), lambda s: s.totals.cancelled, "count", None),
    ("no_show", N_("No-shows"), lambda s: s.totals.no_show, "count", None),
    ("not_recorded", N_("Attendance not recorded"), lambda s: s.totals.unrecorded, "count", None),
    ("video_held", N_("Video sessions held"), lambda s: s.totals.video_held, "count", None),
    ("home_visits_held", N_("Home visits held"), lambda s: s.totals.home_visits_held, "count", None),
    ("attendance_rate", N_("Attendance rate"), lambda s: s.totals.attendance_rate, "share",
     lambda s: s.totals.held + s.totals.no_show),
    *[(f"attendance_rate_{key}", label, (lambda i: lambda s: s.reminders[i].attendance_rate)(i), "share",
       (lambda i: lambda s: s.reminders[i].held + s.reminders[i].no_show)(i))
      for i, (key, label) in enumerate([
          ("reminded_confirmed", N_("Attendance rate: reminder sent, confirmed")),
          ("reminded_not_confirmed", N_("Attendance rate: reminder sent, not confirmed")),
          ("not_reminded_confirmed", N_("Attendance rate: no reminder sent, confirmed")),
          ("not_reminded_not_confirmed", N_("Attendance rate: no reminder sent, not confirmed"))])],
    ("video_median_minutes", N_("Video: median call duration (minutes)"),
     lambda s: s.video.median_duration_minutes, "median", lambda s: s.video.durations_counted),
    ("video_share_relayed", N_("Video: share that needed a relay"), lambda s: s.video.share_relayed, "share",
     lambda s: s.video.reported_connection),
    ("video_share_failed", N_("Video: share with a failed or abandoned connection"),
     lambda s: s.video.share_failed, "share", lambda s: s.video.with_call),
    ("video_median_wait_seconds", N_("Video: median time in the waiting room (seconds)"),
     lambda s: s.video.median_wait_seconds, "median", lambda s: s.video.waits_counted),
    ("interpreter_booked", N_("Interpreter appointments"), lambda s: s.interpreters.booked, "count", None),
    ("interpreter_held", N_("Interpreter appointments held"), lambda s: s.interpreters.held, "count", None),
    ("interpreter_no_show", N_("Interpreter appointments with a no-show"), lambda s: s.interpreters.no_show,
     "count", None),
    ("interpreter_released_in_time", N_("Interpreters released in time by a cancellation"),
     lambda s: s.interpreters.released_in_time, "count", None),
    ("checkins", N_("Wellbeing check-ins"), lambda s: s.checkins, "count", None),
    ("goals_achieved", N_("Goals achieved"), lambda s: s.goals_achieved, "count", None),
    ("driving_minutes_saved", N_("Estimated driving time saved (minutes)"), lambda s: s.driving_minutes_saved,
     "count", None),
]


def plain(value: float | None, kind: str) -> str:
    """A figure as text for a file: counts as integers, shares as fractions with 3 decimals, medians with 1."""
    if value is None:
        return ""
    if kind == "count":
        return str(int(value))
    return f"{value:.3f}" if kind == "share" else f"{value:.1f}"


def figures(stats: Statistics) -> list[tuple[str, str, str]]:
    """Every figure unsuppressed: (key, translated label, value as text)."""
    return [(key, gettext(label), plain(read(stats), kind)) for key, label, read, kind, _ in FIGURES]


def anonymised(stats: Statistics) -> list[tuple[str, str, str]]:
    """Every figure with small numbers suppressed: a count below 5, or a share or median resting on fewer than 5."""
    rows = []
    for key, label, read, kind, base in FIGURES:
        value = read(stats)
        if kind == "count":
            shown = SUPPRESSED if value is not None and 0 < value < SMALL else plain(value, kind)
        else:
            shown = SUPPRESSED if base is not None and base(stats) < SMALL else plain(value, kind)
        rows.append((key, gettext(label), shown))
    return rows


def pilot_json(stats: Statistics, municipality: str) -> dict:
    """The anonymised export as JSON: the municipality, the period and the figures by key."""
    return {"municipality": municipality, "period": {"first": stats.period.first.isoformat(),
                                                     "last": stats.period.last.isoformat()},
            "suppressed_below": SMALL, "figures": {key: value for key, _, value in anonymised(stats)}}


def pilot_csv(stats: Statistics, municipality: str) -> str:
    """The anonymised export as CSV: key, value and the figure's name in the reader's language."""
    rows = [["figure", "value", "label"], ["municipality", municipality, ""],
            ["period_first", stats.period.first.isoformat(), ""], ["period_last", stats.period.last.isoformat(), ""]]
    return to_csv(rows + [[key, value, label] for key, label, value in anonymised(stats)])


def statistics_csv(stats: Statistics) -> str:
    """The supervisor's full table: every figure, then a line per team and per worker."""
    rows: list[list[str]] = [[gettext(N_("Figure")), gettext(N_("Value"))]]
    rows += [[label, value] for _, label, value in figures(stats)]
    rows.append([])
    header = [gettext(N_("Team")), *_count_headers(), gettext(N_("Estimated driving time saved (minutes)"))]
    rows += [header] + [[row.name, *_count_values(row.counts), str(row.driving_minutes_saved)] for row in stats.teams]
    rows.append([])
    rows += [[gettext(N_("Support worker")), *_count_headers()]]
    rows += [[row.name, *_count_values(row.counts)] for row in stats.workers]
    return to_csv(rows)


def _count_headers() -> list[str]:
    return [gettext(m) for m in (N_("Appointments booked"), N_("Appointments held"), N_("Cancelled"), N_("No-shows"),
                                 N_("Video sessions held"), N_("Home visits held"), N_("Attendance rate"))]


def _count_values(c: Counts) -> list[str]:
    return [str(c.booked), str(c.held), str(c.cancelled), str(c.no_show), str(c.video_held),
            str(c.home_visits_held), plain(c.attendance_rate, "share")]


def to_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        # A cell starting with = + - @ would be a formula in a spreadsheet: prefix it (names are typed by people).
        writer.writerow([f"'{cell}" if cell[:1] in ("=", "+", "-", "@") else cell for cell in row])
    return out.getvalue()
