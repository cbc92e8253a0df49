"""Statistics as tables to download: the supervisor's full CSV, and the anonymised pilot export.

The pilot export is for comparing municipalities or periods: aggregate figures only, no names and no
ids, and every count from 1 to 4 shown as "<5", so no citizen can be singled out. Nor can a hidden count be
worked out from the figures shown: a share, median or driving time resting on a count from 1 to 4 is "<5"
too, and where a hidden count could be had by subtraction (booked = held + cancelled + no-shows + not
recorded; held = video + home visits) another count of the sum is withheld as "x", and so is any figure
computed from a hidden count.
"""

from __future__ import annotations

from collections.abc import Callable

from vbostotte.i18n import N_, gettext
from vbostotte.review import spreadsheet
from vbostotte.review.spreadsheet import Cell
from vbostotte.review.statistics import Counts, Statistics

SMALL = 5
SUPPRESSED = "<5"  # a count from 1 to 4, or a figure resting on one
WITHHELD = "x"  # not small itself, but it (or what it is computed from) would let a hidden count be worked out


def _share(part: Callable[[Statistics], int], whole: Callable[[Statistics], int]) -> Callable[[Statistics], list[int]]:
    """A share rests on its part and on the rest of the whole: either being small shows through."""
    return lambda s: [part(s), whole(s) - part(s)]


# (key, label, how to read it from the statistics, kind, the counts it rests on, the counts shown in the export
# that it is computed from). kind: "count", "share", "median" or "minutes".
def _reminder_rate(group: int) -> Callable[[Statistics], float | None]:
    return lambda s: s.reminders[group].attendance_rate


def _reminder_counts(group: int) -> Callable[[Statistics], list[int]]:
    return lambda s: [s.reminders[group].held, s.reminders[group].no_show]


Figure = tuple[
    str, str, Callable[[Statistics], float | None], str, Callable[[Statistics], list[int]] | None, tuple[str, ...]
]
FIGURES: list[Figure] = [
    ("booked", N_("Appointments booked"), lambda s: s.totals.booked, "count", None, ()),
    ("held", N_("Appointments held"), lambda s: s.totals.held, "count", None, ()),
    ("cancelled", N_("Cancelled"), lambda s: s.totals.cancelled, "count", None, ()),
    ("no_show", N_("No-shows"), lambda s: s.totals.no_show, "count", None, ()),
    ("not_recorded", N_("Attendance not recorded"), lambda s: s.totals.unrecorded, "count", None, ()),
    ("video_held", N_("Video sessions held"), lambda s: s.totals.video_held, "count", None, ()),
    ("home_visits_held", N_("Home visits held"), lambda s: s.totals.home_visits_held, "count", None, ()),
    (
        "attendance_rate",
        N_("Attendance rate"),
        lambda s: s.totals.attendance_rate,
        "share",
        lambda s: [s.totals.held, s.totals.no_show],
        ("held", "no_show"),
    ),
    *[
        (
            f"attendance_rate_{key}",
            label,
            _reminder_rate(i),
            "share",
            _reminder_counts(i),
            (),
        )
        for i, (key, label) in enumerate(
            [
                ("reminded_confirmed", N_("Attendance rate: reminder sent, confirmed")),
                ("reminded_not_confirmed", N_("Attendance rate: reminder sent, not confirmed")),
                ("not_reminded_confirmed", N_("Attendance rate: no reminder sent, confirmed")),
                ("not_reminded_not_confirmed", N_("Attendance rate: no reminder sent, not confirmed")),
            ]
        )
    ],
    (
        "video_median_minutes",
        N_("Video: median call duration (minutes)"),
        lambda s: s.video.median_duration_minutes,
        "median",
        lambda s: [s.video.durations_counted],
        (),
    ),
    (
        "video_share_relayed",
        N_("Video: share that needed a relay"),
        lambda s: s.video.share_relayed,
        "share",
        _share(lambda s: s.video.relayed, lambda s: s.video.reported_connection),
        (),
    ),
    (
        "video_share_failed",
        N_("Video: share with a failed or abandoned connection"),
        lambda s: s.video.share_failed,
        "share",
        _share(lambda s: s.video.failed, lambda s: s.video.with_call),
        (),
    ),
    (
        "video_median_wait_seconds",
        N_("Video: median time in the waiting room (seconds)"),
        lambda s: s.video.median_wait_seconds,
        "median",
        lambda s: [s.video.waits_counted],
        (),
    ),
    ("interpreter_booked", N_("Interpreter appointments"), lambda s: s.interpreters.booked, "count", None, ()),
    ("interpreter_held", N_("Interpreter appointments held"), lambda s: s.interpreters.held, "count", None, ()),
    (
        "interpreter_no_show",
        N_("Interpreter appointments with a no-show"),
        lambda s: s.interpreters.no_show,
        "count",
        None,
        (),
    ),
    (
        "interpreter_released_in_time",
        N_("Interpreters released in time by a cancellation"),
        lambda s: s.interpreters.released_in_time,
        "count",
        None,
        (),
    ),
    ("checkins", N_("Wellbeing check-ins"), lambda s: s.checkins, "count", None, ()),
    ("goals_achieved", N_("Goals achieved"), lambda s: s.goals_achieved, "count", None, ()),
    # Video sessions held × the teams' minutes per home visit: divided back, it would show the sessions.
    (
        "driving_minutes_saved",
        N_("Estimated driving time saved (minutes)"),
        lambda s: s.driving_minutes_saved,
        "minutes",
        lambda s: [s.totals.video_held],
        ("video_held",),
    ),
]

# Counts shown in the export that add up to another one shown: hiding one member alone would be undone by
# subtraction.
SUMS: list[tuple[str, tuple[str, ...]]] = [
    ("booked", ("held", "cancelled", "no_show", "not_recorded")),
    ("held", ("video_held", "home_visits_held")),
]


def plain(value: float | None, kind: str) -> str:
    """A figure as text for the JSON export: counts and minutes as integers, shares as fractions with 3 decimals,
    medians with 1 (CSV files take :func:`cell` instead)."""
    if value is None:
        return ""
    if kind in ("count", "minutes"):
        return str(int(value))
    return f"{value:.3f}" if kind == "share" else f"{value:.1f}"


def cell(value: float | None, kind: str) -> Cell:
    """A figure as a spreadsheet cell: counts and minutes as integers, shares as percentages ("83,3"), medians
    with one decimal ("3,7")."""
    if value is None:
        return None
    if kind in ("count", "minutes"):
        return int(value)
    return spreadsheet.Percent(value) if kind == "share" else spreadsheet.Decimal(value, 1)


def _csv_label(label: str, kind: str) -> str:
    """A figure's name in a CSV file: a share says its unit, since the file holds it as a percentage number."""
    return f"{gettext(label)} (%)" if kind == "share" else gettext(label)


def figures(stats: Statistics) -> list[tuple[str, str, str]]:
    """Every figure unsuppressed: (key, translated label, value as text)."""
    return [(key, gettext(label), plain(read(stats), kind)) for key, label, read, kind, *_ in FIGURES]


def figure_cells(stats: Statistics) -> list[tuple[str, str, Cell]]:
    """Every figure unsuppressed, for a CSV file: (key, translated label, value as a spreadsheet cell)."""
    return [(key, _csv_label(label, kind), cell(read(stats), kind)) for key, label, read, kind, *_ in FIGURES]


def _small(n: float | None) -> bool:
    return n is not None and 0 < n < SMALL


def hidden(stats: Statistics) -> dict[str, str]:
    """The figures the pilot export hides, with their mark: "<5" (small, or resting on a small count) or "x"
    (withheld so that no hidden count can be worked out from the others)."""
    counts = {key: read(stats) for key, _, read, kind, *_ in FIGURES if kind == "count"}
    marks = {key: SUPPRESSED for key, value in counts.items() if _small(value)}
    changed = True
    while changed:  # a count withheld from one sum may be the only hidden member of another
        changed = False
        for total, parts in SUMS:
            members = (total, *parts)
            if sum(m in marks for m in members) != 1:
                continue
            # One hidden member (never the total alone: a total from 1 to 4 has a small part): withhold the
            # smallest other part that is not zero (a zero hides nothing).
            others = [p for p in parts if p not in marks and counts[p]]
            if others:
                marks[min(others, key=lambda p: counts[p] or 0)] = WITHHELD  # others are not zero (nor None)
                changed = True
    for key, _, _, kind, rests_on, computed_from in FIGURES:
        if kind == "count" or key in marks:
            continue
        if rests_on is not None and any(_small(n) for n in rests_on(stats)):
            marks[key] = SUPPRESSED
        elif any(source in marks for source in computed_from):
            marks[key] = WITHHELD
    return marks


def anonymised(stats: Statistics) -> list[tuple[str, str, str]]:
    """Every figure, with the small ones and those that would reveal them hidden (see :func:`hidden`)."""
    marks = hidden(stats)
    return [(key, gettext(label), marks.get(key) or plain(read(stats), kind)) for key, label, read, kind, *_ in FIGURES]


def pilot_json(stats: Statistics, municipality: str) -> dict:
    """The anonymised export as JSON: the municipality, the period and the figures by key."""
    return {
        "municipality": municipality,
        "period": {"first": stats.period.first.isoformat(), "last": stats.period.last.isoformat()},
        "suppressed_below": SMALL,
        "withheld_mark": WITHHELD,
        "figures": {key: value for key, _, value in anonymised(stats)},
    }


def pilot_csv(stats: Statistics, municipality: str) -> str:
    """The anonymised export as CSV for a Danish spreadsheet (``spreadsheet``): key, value and the figure's name in
    the reader's language; a hidden figure is its mark ("<5", "x"), a share a percentage number."""
    marks = hidden(stats)
    rows: list[list[Cell]] = [
        ["figure", "value", "label"],
        ["municipality", municipality, ""],
        ["period_first", stats.period.first.isoformat(), ""],
        ["period_last", stats.period.last.isoformat(), ""],
    ]
    for key, label, read, kind, *_ in FIGURES:
        rows.append([key, marks.get(key) or cell(read(stats), kind), _csv_label(label, kind)])
    return spreadsheet.write(rows)


def statistics_csv(stats: Statistics) -> str:
    """The supervisor's full table: every figure, then a line per team and per worker."""
    rows: list[list[Cell]] = [[gettext(N_("Figure")), gettext(N_("Value"))]]
    rows += [[label, value] for _, label, value in figure_cells(stats)]
    rows.append([])
    header: list[Cell] = [gettext(N_("Team")), *_count_headers(), gettext(N_("Estimated driving time saved (minutes)"))]
    rows += [header] + [[row.name, *_count_values(row.counts), row.driving_minutes_saved] for row in stats.teams]
    rows.append([])
    rows += [[gettext(N_("Support worker")), *_count_headers()]]
    rows += [[row.name, *_count_values(row.counts)] for row in stats.workers]
    return spreadsheet.write(rows)


def _count_headers() -> list[str]:
    return [
        gettext(m)
        for m in (
            N_("Appointments booked"),
            N_("Appointments held"),
            N_("Cancelled"),
            N_("No-shows"),
            N_("Video sessions held"),
            N_("Home visits held"),
        )
    ] + [_csv_label(N_("Attendance rate"), "share")]


def _count_values(c: Counts) -> list[Cell]:
    return [
        c.booked,
        c.held,
        c.cancelled,
        c.no_show,
        c.video_held,
        c.home_visits_held,
        cell(c.attendance_rate, "share"),
    ]
