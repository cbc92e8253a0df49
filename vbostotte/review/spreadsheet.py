"""CSV files that open right in a Danish spreadsheet: every export's one writer.

Danish Excel reads a CSV file with the regional list separator (";") and decimal comma, and takes the file
for UTF-8 only when it starts with a byte-order mark. So the files are UTF-8 with BOM, semicolon-separated,
with CRLF line ends; numbers are written as the spreadsheet reads them back as numbers: no thousands separator,
a decimal comma ("3,7"), and a share as a percentage number ("83,3" in a column whose heading says "(%)"), never
as a fraction with a point ("1.000" is one thousand to Danish Excel). Text that a spreadsheet would take for a
formula (starting with = + - @, or a tab or carriage return) gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

BOM = "\ufeff"
SEPARATOR = ";"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Percent:
    """A share (0–1), written as a percentage number with at most one decimal: 0.8333 → "83,3"."""

    share: float


@dataclass(frozen=True)
class Decimal:
    """A number written with at most ``places`` decimals and a decimal comma: 3.74 → "3,7"."""

    value: float
    places: int = 1


Cell = str | int | float | Percent | Decimal | None


def number(value: float, places: int = 1) -> str:
    """``value`` with at most ``places`` decimals, a decimal comma and no thousands separator: "1234,5", "12"."""
    text = f"{value:.{places}f}" if places else str(round(value))
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text.replace(".", ",")


def cell_text(cell: Cell) -> str:
    """One cell as the file holds it."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "1" if cell else "0"
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, float):
        return number(cell, 3)
    if isinstance(cell, Percent):
        return number(cell.share * 100, 1)
    if isinstance(cell, Decimal):
        return number(cell.value, cell.places)
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def write(rows: Iterable[Iterable[Cell]]) -> str:
    """The whole file, BOM first (encode it as UTF-8)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=SEPARATOR, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for row in rows:
        writer.writerow([cell_text(cell) for cell in row])
    return out.getvalue()
