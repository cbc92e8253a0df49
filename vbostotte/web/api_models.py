"""The JSON API's request and response models (pydantic v2), declared once: they check what a caller sends (a
translatable message per refused field), shape what the API answers, and generate the OpenAPI 3.1 document served
at ``/api/openapi.json`` (:func:`openapi`). docs/api.md describes the contract and how it is tested."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import PydanticCustomError

from vbostotte.booking import availability, lifecycle
from vbostotte.care import notes
from vbostotte.errors import InvalidInput
from vbostotte.i18n import N_
from vbostotte.models import AppointmentKind, Attendance, CitizenResponse, StaffRole
from vbostotte.web.validation import DAY_OUT_OF_RANGE, MAX_ID, NOT_ALLOWED, day_in_range, forbidden_characters

MAX_JSON = 32 * 1024
MAX_OFFER = 64 * 1024  # a browser's offer with audio, video and its candidates is a few KiB
# A note draft's three texts at their longest, each character escaped as \uXXXX (six bytes) as many JSON encoders
# do by default.
MAX_NOTE_DRAFT_JSON = 3 * 6 * notes.MAX_TEXT + 1024

NOT_VALID = N_("This field is not valid.")
REQUIRED = N_("This field is required.")
NOT_KNOWN = N_("This field is not known.")
TOO_LONG = N_("This field is too long.")
OUT_OF_RANGE = N_("This number is out of range.")
CHOOSE = N_("Choose one of the options.")
TIME_LIKE = N_("Enter a time like 2026-12-01T10:30:00+01:00.")
DATE_LIKE = N_("Enter a date like 2026-12-01.")
NOT_AN_OBJECT = N_("The request body must be a JSON object.")
NOT_JSON = N_("The request body is not valid JSON.")

# What pydantic calls each refusal, as the message the caller reads (anything else: NOT_VALID).
MESSAGES = {
    "missing": REQUIRED,
    "extra_forbidden": NOT_KNOWN,
    "string_too_long": TOO_LONG,
    "string_too_short": REQUIRED,
    "literal_error": CHOOSE,
    "enum": CHOOSE,
    "greater_than_equal": OUT_OF_RANGE,
    "less_than_equal": OUT_OF_RANGE,
}

# --- Field types: each is checked exactly as the document says, so no input the document refuses is accepted. ---

# Single-line text has no control characters (nor lone surrogates, which no database stores); a text that may hold
# line breaks allows CR and LF. The same rules as JSON Schema patterns, for the document.
LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
TEXT_PATTERN = "^[^\\u0000-\\u0009\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
# Days and times as the document states them: years 2000–2099 (validation.day_in_range), a real month, day, hour and
# minute. A value is first read by its rough shape, so a wrong year is told as such, not as a wrong format.
_DAY = "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_OFFSET = "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?"
DAY_PATTERN = f"^{_DAY}$"
INSTANT_PATTERN = f"^{_DAY}T{_TIME}{_OFFSET}?$"
DAY_SHAPE = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}")
INSTANT_SHAPE = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}T.*", re.DOTALL)


def refusal(msgid: str) -> PydanticCustomError:
    """A refusal with our own message (a msgid, translated when the error is answered)."""
    return PydanticCustomError("vb", "{msgid}", {"msgid": msgid})


def _line(value: str) -> str:
    if forbidden_characters(value):
        raise refusal(NOT_ALLOWED)
    return value.strip()


def _required_line(value: str) -> str:
    value = _line(value)
    if not value:
        raise refusal(REQUIRED)
    return value


def _text(value: str) -> str:
    if forbidden_characters(value, allowed="\r\n"):
        raise refusal(NOT_ALLOWED)
    return value


def _in_range(day: dt.date) -> None:
    """Dates the API takes at all (validation.day_in_range; the booking rules then say how far ahead)."""
    if not day_in_range(day):
        raise refusal(DAY_OUT_OF_RANGE)


def parse_instant(value: str) -> dt.datetime:
    """ISO 8601 with an offset, or a Copenhagen wall-clock time without one (a skipped time is refused)."""
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        return moment.astimezone(dt.UTC)
    return availability.to_utc(moment.date(), moment.hour * 60 + moment.minute, field="starts_at")


def _instant(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise refusal(NOT_VALID)
    if not INSTANT_SHAPE.fullmatch(value):
        raise refusal(TIME_LIKE)
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        raise refusal(TIME_LIKE) from None
    _in_range(day)  # before any arithmetic on the time can overflow
    if not re.fullmatch(INSTANT_PATTERN[1:-1], value):
        raise refusal(TIME_LIKE)
    try:
        return parse_instant(value)
    except InvalidInput as exc:  # a Copenhagen time the spring clock change skips
        raise refusal(next(iter(exc.errors.values()))) from None
    except (ValueError, OverflowError):
        raise refusal(TIME_LIKE) from None


def _day(value: object) -> dt.date:
    if not isinstance(value, str):
        raise refusal(NOT_VALID)
    if not DAY_SHAPE.fullmatch(value):
        raise refusal(DATE_LIKE)
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise refusal(DATE_LIKE) from None
    _in_range(day)
    return day  # a real date of 2000–2099 matches DAY_PATTERN


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _line_schema(description: str = "") -> Any:
    return Field(description=description or None, json_schema_extra={"pattern": LINE_PATTERN})


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Line300 = Annotated[str, Field(max_length=300), _line_schema(), AfterValidator(_line)]
Reason = Annotated[
    str, Field(min_length=1, max_length=300), _line_schema("Why (for the record)."), AfterValidator(_required_line)
]
Text = Annotated[
    str,
    Field(max_length=notes.MAX_TEXT, json_schema_extra={"pattern": TEXT_PATTERN}),
    AfterValidator(_text),
]
Sdp = Annotated[
    str,
    Field(min_length=1, max_length=MAX_OFFER, json_schema_extra={"pattern": TEXT_PATTERN}),
    AfterValidator(_text),
]
Instant = Annotated[
    dt.datetime,
    BeforeValidator(_instant),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": INSTANT_PATTERN,
            "description": "ISO 8601. With an offset (or Z) it is an instant; without one it is Copenhagen time (a "
            "time skipped by the spring clock change is refused). Years 2000 to 2099.",
        },
        mode="validation",
    ),
]
Day = Annotated[
    dt.date,
    BeforeValidator(_day),
    WithJsonSchema(
        {"type": "string", "format": "date", "pattern": DAY_PATTERN, "description": "A Copenhagen day, 2000–2099."},
        mode="validation",
    ),
]
UtcTime = Annotated[
    dt.datetime,
    PlainSerializer(_utc, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "description": "UTC."}, mode="serialization"),
]

# --- Requests ---------------------------------------------------------------------------------------------------


class Request(BaseModel):
    """What a caller sends: exactly these fields, each of its JSON type (no "1" for 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Interpreter(Request):
    """Book an interpreter for the appointment."""

    name: Annotated[str, Field(min_length=1, max_length=100), _line_schema(), AfterValidator(_required_line)]
    language: Annotated[str, Field(min_length=1, max_length=50), _line_schema(), AfterValidator(_required_line)]
    email: Annotated[str, Field(max_length=254), _line_schema(), AfterValidator(_line)] | None = None
    phone: Annotated[str, Field(max_length=20), _line_schema(), AfterValidator(_line)] | None = None


class NewAppointment(Request):
    """An appointment to book for one of the caller's citizens, with the caller."""

    citizen_id: Annotated[Id, Field(description="A citizen on the caller's caseload.")]
    kind: AppointmentKind
    starts_at: Instant
    duration_minutes: Annotated[int, Field(ge=15, le=240)]
    note_to_citizen: Line300 | None = None
    interpreter: Interpreter | None = None


class Cancellation(Request):
    reason: Reason


class Offer(Request):
    sdp: Annotated[Sdp, Field(description="The offer SDP, with its ICE candidates (no trickling).")]


class NoteDraft(Request):
    """The draft's three fields, each its whole text as typed so far."""

    talked_about: Text
    agreements: Text
    assessment: Text


class Query(BaseModel):
    """Query parameters: text in the URL, so numbers are read from their digits."""

    model_config = ConfigDict(extra="forbid")


class DayRange(Query):
    from_: Annotated[Day, Field(alias="from", description="First day (Copenhagen).")]
    to: Annotated[Day, Field(description="Last day, at most 92 days after the first.")]


class SlotQuery(Query):
    from_: Annotated[Day, Field(alias="from", description="First day (Copenhagen).")]
    days: Annotated[int, Field(ge=1, le=62)]
    duration_minutes: Annotated[int, Field(ge=15, le=240)]


# --- Responses --------------------------------------------------------------------------------------------------


class Response(BaseModel):
    """What the API answers: exactly these fields (the document says so, and the tests hold every answer to it)."""

    model_config = ConfigDict(extra="forbid")


class Appointment(Response):
    id: int
    citizen_id: int
    worker_id: int
    kind: AppointmentKind
    starts_at: UtcTime
    ends_at: UtcTime
    status: Literal["booked", "cancelled"]
    state: lifecycle.State = Field(
        description="Where it is in its life now (docs/appointments.md): booked, confirmed, open (its call has opened), "
        "past (nobody recorded how it went), held, no_show, called_off, declined, cancelled_by_citizen, "
        "cancelled_by_worker."
    )
    response: CitizenResponse = Field(description="The citizen's answer.")
    cancelled_by: Literal["worker", "citizen"] | None = Field(description="Who cancelled (null: not cancelled).")
    note_to_citizen: str | None
    attendance: Attendance | None = Field(description="Recorded after the session (null: not yet).")
    has_interpreter: bool


class AppointmentList(Response):
    appointments: list[Appointment]


class Slots(Response):
    slots: list[UtcTime]
    timezone: str = Field(description="The time zone the days are read in.")


class Session(Response):
    staff_id: int
    role: StaffRole
    csrf_token: str = Field(description="Send it as X-CSRF-Token with a state-changing request made with cookies.")


class SessionDescription(Response):
    sdp: str = Field(description="The answer SDP.")


class NoteDraftSaved(Response):
    version: int
    saved_at: UtcTime


class Error(Response):
    error: int = Field(description="The HTTP status.")
    message: str = Field(description="What went wrong, in the caller's language (Danish by default).")
    fields: dict[str, str] = Field(description="A message per refused field (dotted for nested fields).")


# --- Checking input ---------------------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


def field_errors(exc: ValidationError) -> dict[str, str]:
    """A msgid per refused field, named as the caller spelled it (``interpreter.language``); the body itself when it
    is not an object."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = error["loc"]
        name = ".".join(str(part)[:50] for part in loc) or "body"
        if not loc and error["type"] in ("model_type", "model_attributes_type", "dict_type"):
            message = NOT_AN_OBJECT
        elif error["type"] == "json_invalid":  # also a lone surrogate, or nesting too deep to read
            message = NOT_JSON
        elif error["type"] == "vb":
            message = error["ctx"]["msgid"]
        elif error["input"] is None and loc and error["type"] != "extra_forbidden":
            message = REQUIRED  # null for a field that must have a value
        else:
            message = MESSAGES.get(error["type"], NOT_VALID)
        errors.setdefault(name, message)
    return errors


def parse(model: type[M], data: object) -> M:
    """``data`` (query parameters) checked against ``model``; every refused field is reported at once
    (:class:`InvalidInput`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc)) from None


def parse_json(model: type[M], raw: bytes) -> M:
    """A JSON body read and checked against ``model`` in one step (JSON types as they are: a string is no number,
    and an enum is one of its strings)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc)) from None


# --- The OpenAPI document ---------------------------------------------------------------------------------------

ID_PARAMETER = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[\\u0020-\\u007e]*$"},
    "description": "A retried request with the same key and the same body returns the same appointment (200); the "
    "same key with another body is refused (422).",
}
DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    401: "Not signed in, or the API key is not valid",
    403: "Not allowed for this role (or, with cookies, no valid CSRF token)",
    404: "Not found (or not yours)",
    409: "Conflicts with another appointment or with its state",
    413: "The body is too large",
    415: "The body is not JSON (Content-Type: application/json)",
    422: "Invalid input: a message per field",
    503: "Busy or a dependency is down: try again shortly",
}
ALWAYS = (401, 403, 503)  # any request may be unauthenticated, not allowed, or meet a database that is down
WITH_BODY = (413, 415, 422)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    answers: dict[int, type[Response]]  # the successful statuses
    errors: tuple[int, ...] = ()  # besides ALWAYS (and WITH_BODY with a body, 404 with an {id})
    body: type[Request] | None = None
    query: type[Query] | None = None
    headers: tuple[dict[str, Any], ...] = field(default=())

    def statuses(self) -> dict[int, type[Response]]:
        errors = set(ALWAYS) | set(self.errors)
        if self.body:
            errors |= set(WITH_BODY)
        if self.query:
            errors.add(422)
        if "{id}" in self.path:
            errors.add(404)
        return {**self.answers, **dict.fromkeys(sorted(errors), Error)}


OPERATIONS = [
    Operation(
        "get",
        "/api/v1/session",
        "Who is signed in, and the CSRF token for state-changing requests made with cookies",
        {200: Session},
    ),
    Operation(
        "get",
        "/api/v1/appointments",
        "Appointments of the caller's citizens in a range of days",
        {200: AppointmentList},
        query=DayRange,
    ),
    Operation(
        "post",
        "/api/v1/appointments",
        "Book an appointment (idempotent with Idempotency-Key)",
        {201: Appointment, 200: Appointment},
        errors=(404, 409),
        body=NewAppointment,
        headers=(IDEMPOTENCY_KEY,),
    ),
    Operation("get", "/api/v1/appointments/{id}", "One appointment", {200: Appointment}),
    Operation(
        "post",
        "/api/v1/appointments/{id}/cancel",
        "Cancel an appointment",
        {200: Appointment},
        errors=(409,),
        body=Cancellation,
    ),
    Operation("get", "/api/v1/availability", "The caller's free start times", {200: Slots}, query=SlotQuery),
    Operation(
        "post",
        "/api/v1/connection-test/offer",
        "The connection test page's WebRTC offer, answered by a server peer that echoes its media",
        {200: SessionDescription},
        body=Offer,
    ),
    Operation(
        "post",
        "/api/v1/notes/{id}/draft",
        "Autosave a session note's open draft (its author only; a signed note is refused with 409)",
        {200: NoteDraftSaved},
        errors=(409,),
        body=NoteDraft,
    ),
]


class _Generator(GenerateJsonSchema):
    """JSON Schema without a generated title on every property (the names say it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _schemas() -> dict[str, Any]:
    used: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Error, "serialization")]
    for op in OPERATIONS:
        used += [(model, "serialization") for model in op.answers.values()]
        if op.body:
            used.append((op.body, "validation"))
    _, top = models_json_schema(
        list(dict.fromkeys(used)), ref_template="#/components/schemas/{model}", schema_generator=_Generator
    )
    return top["$defs"]


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [ID_PARAMETER] if "{id}" in op.path else []
    if op.query:
        schema = op.query.model_json_schema(schema_generator=_Generator)
        required = set(schema.get("required", ()))
        for name, prop in schema["properties"].items():
            prop = dict(prop)
            description = prop.pop("description", None)
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            params.append({**param, "description": description} if description else param)
    return params + list(op.headers)


def openapi(base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the JSON API, from the models above."""
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        spec: dict[str, Any] = {"summary": op.summary}
        if params := _parameters(op):
            spec["parameters"] = params
        if op.body:
            spec["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}},
            }
        spec["responses"] = {
            str(status): {
                "description": DESCRIPTIONS[status],
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
            }
            for status, model in op.statuses().items()
        }
        paths.setdefault(op.path, {})[op.method] = spec
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Virtuel Bostøtte API",
            "version": "1",
            "description": "Appointments and availability, for integration with municipal systems. "
            "Authenticated as a staff member: with a personal API key "
            "(Authorization: Bearer vbt_…, made on the page /account/api-keys), or from a "
            "signed-in browser (session cookie; state-changing requests then send the CSRF "
            "token from GET /api/v1/session in the X-CSRF-Token header). "
            "Times are UTC in responses. Every refusal is an Error with a message per field.",
        },
        "security": [{"apiKey": []}, {"session": []}],
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "vb_session"},
            },
            "schemas": _schemas(),
        },
    }
