"""Bar charts drawn on the server as accessible, inline SVG (matplotlib's SVG backend).

The SVG has ``role="img"`` and is labelled by its own ``<title>`` and ``<desc>``; every bar is one
series, named on its axis and carrying its value as text, so nothing is told by colour (there is no
legend to match colours against). Pages show the same numbers in a table beside each chart.

The strict Content-Security-Policy allows no inline styles, so matplotlib's ``style`` attributes are
turned into SVG presentation attributes (which are not styles), and element ids are prefixed so that
several charts on one page never share an id.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import matplotlib

matplotlib.use("svg")  # no GUI backend, ever (the server has no display)

from markupsafe import Markup  # noqa: E402
from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

SVG_NS, XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)
BAR, INK = "#c9d7ea", "#1a1a1a"  # light bars with a dark outline; text in near-black (contrast > 15:1)
FONT = {"svg.fonttype": "none", "font.family": "sans-serif", "font.size": 11, "svg.hashsalt": "vbostotte"}
URL_RE = re.compile(r"url\(#([^)]+)\)")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str  # the value as text beside the bar ("83 %", "12")


def bar_chart(chart_id: str, title: str, description: str, bars: list[Bar], *, maximum: float | None = None) -> Markup:
    """A horizontal bar chart, each bar named on the axis and labelled with its value."""
    height = 0.42 * len(bars) + 0.4
    longest = max((len(b.label) for b in bars), default=1)
    with matplotlib.rc_context(FONT):
        figure = Figure(figsize=(6.4, height), dpi=72)
        FigureCanvasSVG(figure)
        # Margins by hand: tight_layout would measure every text and double the drawing time.
        figure.subplots_adjust(
            left=min(0.55, 0.03 + longest * 0.0135), right=0.97, top=1 - 0.15 / height, bottom=0.15 / height
        )
        axes = figure.add_subplot()
        positions = list(range(len(bars)))[::-1]
        drawn = axes.barh(positions, [b.value for b in bars], height=0.6, color=BAR, edgecolor=INK, linewidth=1)
        axes.bar_label(drawn, labels=[b.shown for b in bars], padding=4, color=INK)
        axes.set_yticks(positions, [b.label for b in bars], color=INK)
        top = max([maximum or 0] + [b.value for b in bars]) or 1
        axes.set_xlim(0, top * 1.2)
        # No value axis: every bar carries its value as text, so a scale would only repeat it (and drawing its
        # ticks took half of the chart's time).
        axes.set_xticks([])
        for side in ("top", "right", "bottom"):
            axes.spines[side].set_visible(False)
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return Markup(accessible_svg(out.getvalue(), chart_id, title, description))


def accessible_svg(svg: str, chart_id: str, title: str, description: str) -> str:
    """matplotlib's SVG made fit for the page: labelled for assistive technology, no styles, unique ids."""
    root = ET.fromstring(svg)
    _drop(root, {"metadata", "style"})
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    for element in root.iter():
        _style_to_attributes(element)
        _prefix_ids(element, chart_id)
    for name in ("width", "height"):
        root.attrib.pop(name, None)
    root.set("id", chart_id)
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-title {chart_id}-desc")
    root.set("class", "chart")
    root.set("focusable", "false")
    desc = ET.Element(f"{{{SVG_NS}}}desc", {"id": f"{chart_id}-desc"})
    desc.text = description
    heading = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{chart_id}-title"})
    heading.text = title
    root.insert(0, desc)
    root.insert(0, heading)
    return ET.tostring(root, encoding="unicode")


def _drop(root: ET.Element, names: set[str]) -> None:
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag.split("}")[-1] in names:
                parent.remove(child)


def _style_to_attributes(element: ET.Element) -> None:
    style = element.attrib.pop("style", None)
    if not style:
        return
    for declaration in style.split(";"):
        name, _, value = declaration.partition(":")
        name, value = name.strip(), value.strip()
        if not name:
            continue
        if name == "font":
            _font(element, value)
        else:
            element.set(name, value)


def _font(element: ET.Element, value: str) -> None:
    """The ``font`` shorthand ("bold 11px 'DejaVu Sans'") as the attributes SVG knows."""
    words = value.split()
    for i, word in enumerate(words):
        if word.endswith("px"):
            element.set("font-size", word)
            element.set("font-family", " ".join(words[i + 1 :]) + ", sans-serif")
            if "bold" in words[:i]:
                element.set("font-weight", "bold")
            return


def _prefix_ids(element: ET.Element, prefix: str) -> None:
    if "id" in element.attrib:
        element.set("id", f"{prefix}-{element.get('id')}")
    for name, value in list(element.attrib.items()):
        if "url(#" in value:
            element.set(name, URL_RE.sub(lambda m: f"url(#{prefix}-{m.group(1)})", value))
        elif name == f"{{{XLINK_NS}}}href" and value.startswith("#"):
            element.set(name, f"#{prefix}-{value[1:]}")
