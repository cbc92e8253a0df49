"""Translations (Babel catalogues, Danish first), Copenhagen-time and number formatting.

Message ids are English; ``da`` is the default locale. Catalogues are the ``.po`` files under
``translations/``, compiled in memory when first needed (``create_app`` asks for them as it builds the app, so no
request waits for them; importing this module does not), so no build step can leave them stale.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import io
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time, get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.numbers import format_percent as _format_percent
from babel.support import NullTranslations, Translations

LOCALES = ("da", "en")
LOCALE_NAMES = {"da": "Dansk", "en": "English"}
TZ = ZoneInfo("Europe/Copenhagen")
CATALOGUES = Path(__file__).parent / "translations"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default="da")


@functools.cache
def catalogues() -> dict[str, NullTranslations]:
    """Every locale's .po file compiled in memory, once per process, on first use."""
    compiled: dict[str, NullTranslations] = {}
    for locale in LOCALES:
        po = CATALOGUES / locale / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        buf = io.BytesIO()
        write_mo(buf, catalog, use_fuzzy=False)
        buf.seek(0)
        compiled[locale] = Translations(buf)
    return compiled


def set_locale(locale: str) -> contextvars.Token:
    return _current.set(locale if locale in LOCALES else "da")


def reset_locale(token: contextvars.Token) -> None:
    _current.reset(token)


def get_locale() -> str:
    return _current.get()


def gettext(message: str, **params: object) -> str:
    """Translate ``message`` into the current request's language and fill in ``%(name)s`` params."""
    text = catalogues()[get_locale()].gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = catalogues()[get_locale()].ngettext(singular, plural, n)
    return text % {"num": n, **params}


_ = gettext


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated later, where the request's language is known."""
    return message


ROLE_LABELS = {
    "worker": N_("Support worker"),
    "supervisor": N_("Supervisor"),
    "admin": N_("Administrator"),
    "citizen": N_("Citizen"),
}


ATTENDANCE_LABELS = {
    "attended": N_("Attended"),
    "no_show": N_("Did not come"),
    "cancelled_late": N_("Cancelled late"),
    "cancelled_in_time": N_("Cancelled in time"),
}


ABSENCE_LABELS = {"holiday": N_("Holiday"), "sick": N_("Sick"), "other": N_("Other absence")}


def absence_label(value: str) -> str:
    return gettext(ABSENCE_LABELS.get(value, value))


def attendance_label(value: str) -> str:
    return gettext(ATTENDANCE_LABELS.get(value, value))


def before_label(minutes: int) -> str:
    """'1 day before', '3 hours before', … for a reminder offset."""
    if minutes % 1440 == 0:
        return ngettext("%(num)s day before", "%(num)s days before", minutes // 1440)
    if minutes % 60 == 0:
        return ngettext("%(num)s hour before", "%(num)s hours before", minutes // 60)
    return ngettext("%(num)s minute before", "%(num)s minutes before", minutes)


def minutes_clock(minutes: int) -> str:
    """Minutes after midnight as a wall-clock time: 570 → '09.30' (Danish) or '09:30'."""
    return f"{minutes // 60:02d}{'.' if get_locale() == 'da' else ':'}{minutes % 60:02d}"


def weekday_name(weekday: int) -> str:
    """The weekday's name (Monday = 0) in the current language."""
    return get_day_names("wide", locale=get_locale())[weekday]


def role_label(role: str) -> str:
    return gettext(ROLE_LABELS.get(role, role))


def format_number(value: float | None, decimals: int = 0, *, fixed: bool = False) -> str:
    """A number as the page's language writes it, with at most ``decimals`` decimals (exactly, if ``fixed``): '1.234'
    and '3,7' (Danish), '1,234' and '3.7' (English); ``None`` (nothing to show) is '–'."""
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + ("0" if fixed else "#") * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=get_locale())


def format_percent(rate: float | None) -> str:
    """A share (0–1) as a whole percentage in the page's language: '83 %' (Danish), '83%' (English); None is '–'."""
    if rate is None:
        return "–"
    return _format_percent(rate, locale=get_locale())


def _plural_count(value: float, shown: str) -> int:
    """The count the plural form follows: 1 only when the number is written as exactly one ('1', not '1,5')."""
    return 1 if shown == format_number(1) else (0 if value == 0 else 2)


def milliseconds_text(value: float | None) -> str:
    """'1 millisekund', '120 millisekunder' / '1 millisecond', '120 milliseconds'."""
    if value is None:
        return "–"
    shown = format_number(value)
    return ngettext("%(num)s millisecond", "%(num)s milliseconds", _plural_count(value, shown), num=shown)


def seconds_text(value: float | None, decimals: int = 0) -> str:
    """'1 sekund', '12 sekunder', '3,5 sekunder' / '1 second', '12 seconds'."""
    if value is None:
        return "–"
    shown = format_number(value, decimals)
    return ngettext("%(num)s second", "%(num)s seconds", _plural_count(value, shown), num=shown)


def minutes_text(value: float | None, decimals: int = 0) -> str:
    """'1 minut', '3,7 minutter' / '1 minute', '3.7 minutes'."""
    if value is None:
        return "–"
    shown = format_number(value, decimals)
    return ngettext("%(num)s minute", "%(num)s minutes", _plural_count(value, shown), num=shown)


def hours_text(value: float | None, decimals: int = 0) -> str:
    """'1 time', '2,5 timer' / '1 hour', '2.5 hours'."""
    if value is None:
        return "–"
    shown = format_number(value, decimals)
    return ngettext("%(num)s hour", "%(num)s hours", _plural_count(value, shown), num=shown)


def upfirst(text: str) -> str:
    """Capitalise the first letter only ('tirsdag 3. december' → 'Tirsdag 3. december')."""
    return text[:1].upper() + text[1:]


def local(moment: dt.datetime) -> dt.datetime:
    """A UTC datetime as Copenhagen wall-clock time."""
    return moment.astimezone(TZ)


@functools.lru_cache(maxsize=4096)
def _formatted(kind: str, value: Any, pattern: str, locale: str) -> str:
    """Babel's date, time or datetime formatting (Copenhagen time), remembered: a page shows the same days and
    times over and over (a worker's week, every request), and Babel takes a good part of a page's time for each."""
    if kind == "date":
        return format_date(value, pattern, locale=locale)
    return (format_time if kind == "time" else format_datetime)(value, pattern, tzinfo=TZ, locale=locale)


def format_when(moment: dt.datetime) -> str:
    """'tirsdag 3. december kl. 10.00' / 'Tuesday 3 December at 10:00' in Copenhagen time."""
    moment, locale = local(moment), get_locale()
    if locale == "da":
        return _formatted("datetime", moment, "EEEE d. MMMM 'kl.' HH.mm", "da")
    return _formatted("datetime", moment, "EEEE d MMMM 'at' HH:mm", "en")


def format_day(day: dt.date) -> str:
    return _formatted("date", day, "EEEE d. MMMM" if get_locale() == "da" else "EEEE d MMMM", get_locale())


def format_day_span(start: dt.datetime, end: dt.datetime) -> str:
    """Whole Copenhagen days from ``start`` up to (not including) ``end``: 'mandag 1. december – fredag 5. december'."""
    first, last = local(start).date(), local(end - dt.timedelta(microseconds=1)).date()
    return format_day(first) if first == last else f"{format_day(first)} – {format_day(last)}"


def format_clock(moment: dt.datetime) -> str:
    return _formatted("time", local(moment), "HH.mm" if get_locale() == "da" else "HH:mm", get_locale())


def format_timestamp(moment: dt.datetime) -> str:
    """A full local timestamp for logs and lists: '23-11-2026 14.05'."""
    return _formatted(
        "datetime", local(moment), "dd-MM-yyyy HH.mm" if get_locale() == "da" else "yyyy-MM-dd HH:mm", get_locale()
    )


def unit_pattern(unit: str, count: int, placeholder: str = "{n}") -> str:
    """A quantity's wording with ``placeholder`` for the number, for a script that writes the number itself:
    ``unit_pattern("millisecond", 1, "{ms}")`` is '{ms} millisekund'. ``count`` picks the plural form."""
    text = {
        "millisecond": milliseconds_text,
        "second": seconds_text,
        "minute": minutes_text,
        "hour": hours_text,
    }[unit](count)
    return text.replace(format_number(count), placeholder, 1)
