"""The geometry of the worker's wellbeing chart, drawn server-side as SVG (``web/templates/checkins/_chart.html``).

Readable without colour: check-ins are filled circles on a solid line, day grades hollow squares on a dashed
line, every point carries its value as text, and the page gives the same data as a table and a summary.
A pure function of the trend, so it is tested without a browser.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vbostotte.care.checkins import Trend

WIDTH, HEIGHT = 640, 250
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 44


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    day: dt.date
    value: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int  # x of the plot's right edge
    top: int
    bottom: int  # y of the plot's bottom edge
    levels: list[Point]
    grades: list[Point]
    y_ticks: list[tuple[int, float]]  # (value, y)
    x_ticks: list[tuple[dt.date, float]]  # (day, x), one a week

    @staticmethod
    def path(points: list[Point]) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in points)


def chart(trend: Trend) -> Chart:
    """Place each day's check-in and grade on a 1–5 scale over the trend's days, oldest on the left."""
    span = max((trend.last - trend.first).days, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: dt.date) -> float:
        return LEFT + plot_w * (day - trend.first).days / span

    def y(value: int) -> float:
        return TOP + plot_h * (5 - value) / 4

    levels = [Point(x(d.day), y(d.level), d.day, d.level) for d in trend.days if d.level is not None]
    grades = [Point(x(d.day), y(d.grade), d.day, d.grade) for d in trend.days if d.grade is not None]
    weeks = range(0, span + 1, 7)
    return Chart(
        WIDTH,
        HEIGHT,
        LEFT,
        WIDTH - RIGHT,
        TOP,
        HEIGHT - BOTTOM,
        levels,
        grades,
        [(value, y(value)) for value in range(1, 6)],
        [(trend.first + dt.timedelta(days=n), x(trend.first + dt.timedelta(days=n))) for n in weeks],
    )
