"""Reading the app's iCalendar files with an independent parser (``ical``, not the ``icalendar`` library the
app writes them with), plus the RFC 5545 rules that parser would let pass by filling in defaults."""

from __future__ import annotations

from collections import Counter

from ical.calendar import Calendar
from ical.calendar_stream import IcsCalendarStream
from ical.parsing.component import ParsedComponent, parse_content

MAX_LINE_OCTETS = 75  # RFC 5545 3.1: lines longer than this are folded


def _check_lines(body: bytes) -> str:
    assert body.endswith(b"\r\n"), "every content line ends with CRLF"
    lines = body.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in lines), "no bare line breaks"
    assert all(len(line) <= MAX_LINE_OCTETS for line in lines), "long lines are folded"
    return body.decode("utf-8")  # RFC 5545 3.1.4: UTF-8


def _count(component: ParsedComponent) -> Counter:
    return Counter(prop.name for prop in component.properties)


def _check_required(components: list[ParsedComponent]) -> None:
    assert [c.name for c in components] == ["vcalendar"], "exactly one VCALENDAR"
    calendar = components[0]
    counts = _count(calendar)
    assert counts["prodid"] == 1 and counts["version"] == 1, counts
    assert next(p.value for p in calendar.properties if p.name == "version") == "2.0"
    for event in (c for c in calendar.components if c.name == "vevent"):
        counts = _count(event)
        # RFC 5545 3.6.1: UID and DTSTAMP once each; DTSTART once (no METHOD or with one, as we write them).
        assert counts["uid"] == counts["dtstamp"] == counts["dtstart"] == 1, counts
        assert counts["dtend"] <= 1 and counts["sequence"] <= 1 and counts["status"] <= 1, counts


def read_ics(body: bytes) -> Calendar:
    """Parse one calendar file strictly; fails the test if it is not valid iCalendar."""
    text = _check_lines(body)
    _check_required(parse_content(text))
    return IcsCalendarStream.calendar_from_ics(text)


def properties(body: bytes, component: str = "vevent") -> list[dict[str, list[str]]]:
    """The raw property values of each ``component`` (e.g. to read METHOD, STATUS or ATTENDEE as written)."""
    found = []

    def walk(node: ParsedComponent) -> None:
        if node.name == component:
            values: dict[str, list[str]] = {}
            for prop in node.properties:
                values.setdefault(prop.name, []).append(prop.value)
            found.append(values)
        for child in node.components:
            walk(child)

    for root in parse_content(body.decode("utf-8")):
        walk(root)
    return found
