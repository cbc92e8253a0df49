"""Input validation at the edge: plain functions that turn raw form values into clean ones or
collect a translatable message per field, then raise one :class:`InvalidInput` for all of them."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from vbostotte.errors import InvalidInput
from vbostotte.i18n import N_

# What aiohttp raises for a body it cannot parse: bad bytes for the charset (ValueError), an unknown
# charset (LookupError), an unknown multipart encoding (RuntimeError), a broken multipart part.
UNREADABLE_BODY = (ValueError, LookupError, RuntimeError, TypeError, HttpProcessingError)
MAX_ID = 2**31 - 1  # ids are INTEGER columns: a larger number is no id (and PostgreSQL would refuse it)
# The dates anyone may ask about or plan for. Outside them a date is a typo or a probe, never a plan, and the
# calendar's own limits (0001-01-01, 9999-12-31) overflow as soon as a day is added or a time zone applied.
# Booking has its own, narrower bound (booking.BOOKING_HORIZON: two years ahead).
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2099, 12, 31)
DAY_OUT_OF_RANGE = N_("Choose a date between the years 2000 and 2099.")
NOT_ALLOWED = N_("This field contains characters that are not allowed.")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9 ]{8,16}$")

T = TypeVar("T")


def day_in_range(day: dt.date) -> bool:
    """Is ``day`` one the service deals with (:data:`EARLIEST_DAY` to :data:`LATEST_DAY`)?"""
    return EARLIEST_DAY <= day <= LATEST_DAY


def forbidden_characters(value: str, *, allowed: str = "") -> bool:
    """Control characters (but those in ``allowed``, e.g. line breaks in a text area) or a lone surrogate, which
    no database can store as UTF-8 (a JSON body's "\\ud800" decodes to one)."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in value)


async def read_form(request: web.Request) -> MultiDictProxy:
    """The submitted form. A body that cannot be read as one is refused (400), never a server error;
    a body over the size limit stays a 413."""
    try:
        return await request.post()
    except UNREADABLE_BODY:
        raise web.HTTPBadRequest() from None


class Form:
    """Reads fields from a submitted form, collecting errors instead of failing on the first."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, str] = {}

    def _raw(self, name: str) -> str:
        getall = getattr(self.data, "getall", None)
        values = getall(name, []) if getall else [self.data[name]] if name in self.data else []
        if len(values) > 1 or not all(isinstance(v, str) for v in values):
            # A repeated field or a file upload where one text value was expected.
            self.errors[name] = N_("This field is not valid.")
            return ""
        return values[0] if values else ""

    def text(self, name: str, *, max_len: int, required: bool = True, min_len: int = 1) -> str | None:
        """Trimmed single-line text with no control characters."""
        value = unicodedata.normalize("NFC", self._raw(name)).strip()
        if not value:
            if required and name not in self.errors:
                self.errors[name] = N_("This field is required.")
            return None
        if forbidden_characters(value):
            self.errors[name] = NOT_ALLOWED
        elif len(value) > max_len:
            self.errors[name] = N_("This field is too long.")
        elif len(value) < min_len:
            self.errors[name] = N_("This field is too short.")
        return value

    def email(self, name: str, *, required: bool = True) -> str | None:
        value = self.text(name, max_len=254, required=required)
        if value and name not in self.errors and not EMAIL_RE.match(value):
            self.errors[name] = N_("Enter a valid e-mail address.")
        return value.lower() if value else None

    def phone(self, name: str, *, required: bool = False) -> str | None:
        value = self.text(name, max_len=20, required=required)
        if value and name not in self.errors and not PHONE_RE.match(value):
            self.errors[name] = N_("Enter a valid phone number.")
        return value.replace(" ", "") if value else None

    def choice(self, name: str, choices: tuple[str, ...] | list[str]) -> str | None:
        value = self._raw(name).strip()
        if value not in choices:
            self.errors.setdefault(name, N_("Choose one of the options."))
            return None
        return value

    def integer(self, name: str, *, required: bool = True) -> int | None:
        value = self._raw(name).strip()
        if not value:
            if required:
                self.errors.setdefault(name, N_("This field is required."))
            return None
        # ASCII digits only: "²" passes isdigit() but int() refuses it, and int() would read "٣" as 3.
        if not (value.isascii() and value.isdecimal()) or len(value) > 12 or int(value) > MAX_ID:
            self.errors[name] = N_("Choose one of the options.")
            return None
        return int(value)

    def password(self, name: str, *, min_len: int = 12) -> str | None:
        value = self._raw(name)
        if name in self.errors:
            return None
        if len(value) < min_len:
            self.errors[name] = N_("The password must be at least 12 characters.")
        elif len(value) > 1000:
            self.errors[name] = N_("This field is too long.")
        return value

    def date(self, name: str, *, required: bool = True) -> dt.date | None:
        """A calendar date as a date field sends it (YYYY-MM-DD)."""
        value = self._raw(name).strip()
        if not value:
            if required:
                self.errors.setdefault(name, N_("This field is required."))
            return None
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
                raise ValueError
            day = dt.date.fromisoformat(value)
        except ValueError:
            self.errors[name] = N_("Enter a date like 2026-12-01.")
            return None
        if not day_in_range(day):
            self.errors[name] = DAY_OUT_OF_RANGE
            return None
        return day

    def clock_time(self, name: str, *, required: bool = True) -> int | None:
        """A wall-clock time (HH:MM or HH.MM) as minutes after midnight."""
        value = self._raw(name).strip().replace(".", ":")
        if not value:
            if required:
                self.errors.setdefault(name, N_("This field is required."))
            return None
        match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", value)
        if (
            not match
            or int(match.group(1)) > 24
            or int(match.group(2)) > 59
            or (int(match.group(1)) == 24 and int(match.group(2)) > 0)
        ):
            self.errors[name] = N_("Enter a time like 10:30.")
            return None
        return int(match.group(1)) * 60 + int(match.group(2))

    def check(self) -> None:
        """Raise InvalidInput if any field failed."""
        if self.errors:
            raise InvalidInput(dict(self.errors))

    def checked(self, value: T | None) -> T:
        """The value of a field read as required, once :meth:`check` passed: a required field that is missing or
        invalid is an error, so its value is never None then (None here is a bug: a field read as optional)."""
        if value is None:
            self.check()
            raise ValueError("a required form field has no value")
        return value
