"""The geometry of the statistics page's bar charts, drawn server-side as SVG (``web/templates/supervisor/_charts.html``).

A pure function of the bars, so it is tested without a browser. Each bar is named on its own line above it and
carries its value as text at its end, so nothing is told by colour (there is no legend), and the page shows the
same numbers in a table beside each chart. Numbers are written in the page's language (Babel: "1.234", "83 %").

Lengths along the bars are percentages of the chart's width and heights are ``em``: the SVG has no ``viewBox``,
so on a phone the bars get shorter while the text keeps the page's size (and grows with it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from vbostotte import i18n

SCALE = 80.0  # % of the width where the scale ends; the rest holds the value written after the longest bar
ROW = 3.4  # em per bar: its name, then the bar
NAME, BAR_TOP, BAR_HEIGHT = 1.05, 1.4, 1.3  # em from a row's top: the name's baseline, the bar's top, its height
AXIS_GAP, TICK_LINE, BELOW_TICKS = 0.3, 1.25, 0.45  # em: last bar to axis, axis to its numbers' baseline, below them


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: nothing to show (no appointments in the group), written as "–"


@dataclass(frozen=True)
class DrawnBar:
    label: str
    shown: str  # the value as text at the bar's end ("12", "83 %", "–")
    name_y: float  # em
    top: float  # em
    middle: float  # em: where the value is written
    length: float  # % of the width


@dataclass(frozen=True)
class Tick:
    x: float  # % of the width
    text: str


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    bars: list[DrawnBar]
    ticks: list[Tick]
    bar_height: float  # em
    plot_top: float  # em: the first bar's top, where the grid starts
    axis_y: float  # em
    tick_y: float  # em: the baseline of the scale's numbers
    height: float  # em


def bar_chart(
    chart_id: str,
    title: str,
    bars: list[Bar],
    *,
    description: str | None = None,
    percent: bool = False,
    maximum: float | None = None,
) -> BarChart:
    """Horizontal bars from zero, on a scale of round steps up to at least the largest value (or ``maximum``).

    ``percent``: values are percentages (0–100) and are written as such; otherwise they are counts. The
    ``description`` (the SVG's ``<desc>``) is every bar's name and value unless one is given."""
    write: Callable[[float], str] = (lambda v: i18n.format_percent(v / 100)) if percent else i18n.format_number
    largest = max([maximum or 0] + [b.value or 0 for b in bars])
    top, step = _scale(largest, 4, whole=not percent)
    if max(len(write(top)), len(write(step))) > 3:  # "100 %", "1.500": three numbers fit a phone's width, five do not
        top, step = _scale(largest, 2, whole=not percent)
    drawn = [
        DrawnBar(
            bar.label,
            "–" if bar.value is None else write(bar.value),
            round(row * ROW + NAME, 3),
            round(row * ROW + BAR_TOP, 3),
            round(row * ROW + BAR_TOP + BAR_HEIGHT / 2, 3),
            round(SCALE * (bar.value or 0) / top, 2),
        )
        for row, bar in enumerate(bars)
    ]
    axis_y = round(len(bars) * ROW + AXIS_GAP, 3)
    count = round(top / step)
    ticks = [Tick(round(SCALE * n / count, 2), write(step * n)) for n in range(count + 1)]
    if description is None:
        description = "; ".join(f"{bar.label}: {bar.shown}" for bar in drawn) + "."
    return BarChart(
        chart_id,
        title,
        description,
        drawn,
        ticks,
        bar_height=BAR_HEIGHT,
        plot_top=BAR_TOP,
        axis_y=axis_y,
        tick_y=round(axis_y + TICK_LINE, 3),
        height=round(axis_y + TICK_LINE + BELOW_TICKS, 3),
    )


def _scale(largest: float, steps: int, *, whole: bool) -> tuple[float, float]:
    """The scale's end and step: at most ``steps`` round steps (1, 2, 2.5 or 5 times a power of ten) covering
    ``largest``; whole steps for counts."""
    if largest <= 0:
        return 1.0, 1.0
    raw = largest / steps
    power = 10 ** math.floor(math.log10(raw))
    step = 10 * power
    for factor in (1, 2, 2.5, 5):
        if factor * power >= raw and not (whole and factor * power != int(factor * power)):
            step = factor * power
            break
    if whole:
        step = max(step, 1)
    return step * math.ceil(largest / step - 1e-9), step
