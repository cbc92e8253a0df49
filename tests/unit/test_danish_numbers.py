"""Numbers and quantities in the reader's language through Babel (issue 13): a decimal comma and "1 sekund" in
Danish, a point and "1 second" in English — in pages (the Jinja filters are these functions), charts, e-mails,
and the CSV cells that a Danish spreadsheet reads as numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from vbostotte import i18n
from vbostotte.reminders import messages
from vbostotte.review import charts, spreadsheet


@pytest.fixture
def speak():
    tokens = []

    def choose(locale: str) -> None:
        tokens.append(i18n.set_locale(locale))

    yield choose
    for token in reversed(tokens):
        i18n.reset_locale(token)


NBSP = "\xa0"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "da",
            {
                "decimal": "3,7",
                "thousands": "1.234,5",
                "percent": f"100{NBSP}%",
                "minutes": "3,7 minutter",
                "one_minute": "1 minut",
                "one_second": "1 sekund",
                "seconds": "65 sekunder",
                "one_ms": "1 millisekund",
                "ms": "1.250 millisekunder",
                "hours": "0,8 timer",
                "one_hour": "1 time",
            },
        ),
        (
            "en",
            {
                "decimal": "3.7",
                "thousands": "1,234.5",
                "percent": "100%",
                "minutes": "3.7 minutes",
                "one_minute": "1 minute",
                "one_second": "1 second",
                "seconds": "65 seconds",
                "one_ms": "1 millisecond",
                "ms": "1,250 milliseconds",
                "hours": "0.8 hours",
                "one_hour": "1 hour",
            },
        ),
    ],
)
def test_numbers_and_quantities_follow_the_language(speak, locale, expected):
    speak(locale)
    assert {
        "decimal": i18n.format_number(3.74, 1),
        "thousands": i18n.format_number(1234.5, 1),
        "percent": i18n.format_percent(1.0),
        "minutes": i18n.minutes_text(3.74, 1),
        "one_minute": i18n.minutes_text(1),
        "one_second": i18n.seconds_text(1.2),  # written as "1": the singular
        "seconds": i18n.seconds_text(65),
        "one_ms": i18n.milliseconds_text(1),
        "ms": i18n.milliseconds_text(1250),
        "hours": i18n.hours_text(50 / 60, 1),
        "one_hour": i18n.hours_text(60 / 60, 1),
    } == expected


def test_nothing_to_show_is_a_dash_and_a_number_that_is_not_one_takes_the_plural(speak):
    speak("da")
    assert i18n.format_number(None) == i18n.format_percent(None) == i18n.minutes_text(None) == "–"
    assert i18n.minutes_text(1.5, 1) == "1,5 minutter" and i18n.minutes_text(0) == "0 minutter"
    assert i18n.unit_pattern("millisecond", 1, "{ms}") == "{ms} millisekund"
    assert i18n.unit_pattern("millisecond", 7, "{ms}") == "{ms} millisekunder"


def test_an_interpreters_notice_says_minutes_in_danish_words(speak):
    text = messages.interpreter_notice(
        "interpreter_invite",
        kind="video",
        starts_at=dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC),
        minutes=45,
        language="arabisk",
        worker_name="Anne Worker",
        call_link="https://example.dk/g/abc",
        opens_minutes=1,
    )
    assert "kl. 11.00, 45 minutter. Kontakt: Anne." in text.body
    assert "Det åbner 1 minut før start, og Anne lukker dig ind:" in text.body  # the singular, not "1 minutter"


def test_chart_values_and_scale_are_written_in_the_pages_language(speak):
    speak("da")
    chart = charts.bar_chart("c", "t", [charts.Bar("Holdt", 1234), charts.Bar("Udeblev", 3)])
    assert chart.bars[0].shown == "1.234" and "Holdt: 1.234" in chart.description
    rates = charts.bar_chart("r", "t", [charts.Bar("A", 83.3)], percent=True, maximum=100)
    assert rates.bars[0].shown == f"83{NBSP}%" and rates.ticks[-1].text == f"100{NBSP}%"
    speak("en")
    assert charts.bar_chart("c", "t", [charts.Bar("Held", 1234)]).bars[0].shown == "1,234"


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (spreadsheet.Percent(1.0), "100"),  # not "1.000", which Danish Excel reads as one thousand
        (spreadsheet.Percent(0.8333), "83,3"),
        (spreadsheet.Percent(0.0), "0"),
        (spreadsheet.Decimal(30.1), "30,1"),
        (spreadsheet.Decimal(2.0), "2"),
        (spreadsheet.Decimal(1234.56), "1234,6"),  # no thousands separator: the point would be read as one
        (1234, "1234"),
        (0.125, "0,125"),
        (None, ""),
        ("=HYPERLINK()", "'=HYPERLINK()"),
        ("-5", "'-5"),
        ("Team Øst", "Team Øst"),
    ],
)
def test_a_spreadsheet_cell_is_written_as_danish_excel_reads_it(cell, written):
    assert spreadsheet.cell_text(cell) == written


def test_a_csv_file_has_a_bom_semicolons_and_crlf():
    text = spreadsheet.write([["Navn", "Andel (%)"], ["Team; Øst", spreadsheet.Percent(0.5)]])
    assert text == '\ufeffNavn;Andel (%)\r\n"Team; Øst";50\r\n'
