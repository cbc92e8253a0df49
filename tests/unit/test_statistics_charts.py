"""The statistics page's bar charts: their geometry is a pure function (vbostotte/review/charts.py), numbers are
written in the page's language, and the SVG the template draws from it is labelled and free of inline styles."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest

from vbostotte import i18n
from vbostotte.review.charts import Bar, bar_chart

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
NBSP = "\xa0"


@pytest.fixture
def danish():
    token = i18n.set_locale("da")
    yield
    i18n.reset_locale(token)


@pytest.fixture
def english():
    token = i18n.set_locale("en")
    yield
    i18n.reset_locale(token)


def test_counts_get_a_round_scale_and_each_bar_its_length_and_value(danish):
    chart = bar_chart("c", "Aftaler", [Bar("Gennemført", 75), Bar("Udeblivelser", 26), Bar("Aflyst", 0)])
    assert [t.text for t in chart.ticks] == ["0", "20", "40", "60", "80"]
    assert [t.x for t in chart.ticks] == [0, 20, 40, 60, 80]  # the scale ends at 80 % of the width
    assert [(b.label, b.shown, b.length) for b in chart.bars] == [
        ("Gennemført", "75", 75.0),
        ("Udeblivelser", "26", 26.0),
        ("Aflyst", "0", 0.0),
    ]
    tops = [b.top for b in chart.bars]
    assert tops == sorted(tops) and all(b.name_y < b.top < b.middle for b in chart.bars)  # name above its bar
    assert chart.bars[-1].top + chart.bar_height < chart.axis_y < chart.tick_y < chart.height
    assert chart.description == "Gennemført: 75; Udeblivelser: 26; Aflyst: 0."


def test_numbers_are_written_as_the_language_writes_them(danish):
    chart = bar_chart("c", "t", [Bar("a", 1499)])
    assert chart.bars[0].shown == "1.499"
    assert [t.text for t in chart.ticks] == ["0", "1.000", "2.000"]  # wide numbers: fewer steps, to fit a phone


def test_percentages_reach_the_maximum_and_a_missing_rate_is_a_dash(english):
    chart = bar_chart("c", "t", [Bar("a", 74.4), Bar("b", None)], percent=True, maximum=100)
    assert [t.text for t in chart.ticks] == ["0%", "50%", "100%"]
    assert [(b.shown, b.length) for b in chart.bars] == [("74%", 59.52), ("–", 0.0)]
    token = i18n.set_locale("da")
    try:
        assert bar_chart("c", "t", [Bar("a", 100)], percent=True, maximum=100).bars[0].shown == f"100{NBSP}%"
    finally:
        i18n.reset_locale(token)


def test_nothing_to_count_still_draws_a_scale(english):
    chart = bar_chart("c", "t", [Bar("a", 0), Bar("b", 0)])
    assert [t.text for t in chart.ticks] == ["0", "1"] and {b.length for b in chart.bars} == {0.0}


def test_the_svg_is_labelled_by_its_title_and_description_and_has_no_inline_style(english):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    macro = env.get_template("supervisor/_charts.html").module.bar_chart
    chart = bar_chart("chart-x", "Title <1>", [Bar("Held", 3), Bar("No-shows", 0)], description="Held 3 & more.")
    svg = str(macro(chart))
    assert '<svg id="chart-x" class="bar-chart"' in svg and 'role="img"' in svg
    assert 'aria-labelledby="chart-x-title" aria-describedby="chart-x-desc"' in svg
    assert '<title id="chart-x-title">Title &lt;1&gt;</title>' in svg
    assert '<desc id="chart-x-desc">Held 3 &amp; more.</desc>' in svg
    assert "style" not in svg and "viewBox" not in svg
    assert len(re.findall(r"<rect ", svg)) == 1  # a zero draws no bar, only its value
    assert re.findall(r'class="bar-chart__value"[^>]*>([^<]*)<', svg) == ["3", "0"]
