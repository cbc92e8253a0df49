"""The JSON API's request and response shapes, declared once as data: they validate input and they
generate the OpenAPI document served at ``/api/openapi.json``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vbostotte.booking import availability
from vbostotte.care import notes
from vbostotte.errors import InvalidInput
from vbostotte.i18n import N_

MAX_JSON = 32 * 1024


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # string | text (may hold line breaks) | integer | datetime | date | enum | object
    required: bool = False
    description: str = ""
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    fields: tuple[Field, ...] = ()  # for objects

    def schema(self) -> dict[str, Any]:
        if self.kind == "object":
            return object_schema(self.fields, self.description)
        out: dict[str, Any] = {"description": self.description} if self.description else {}
        if self.kind in ("string", "text", "enum"):
            out["type"] = "string"
        elif self.kind == "integer":
            out["type"] = "integer"
        elif self.kind == "datetime":
            out.update(type="string", format="date-time")
        elif self.kind == "date":
            out.update(type="string", format="date")
        if self.max_length:
            out["maxLength"] = self.max_length
        if self.choices:
            out["enum"] = list(self.choices)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out


def object_schema(fields: tuple[Field, ...], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {f.name: f.schema() for f in fields},
    }
    required = [f.name for f in fields if f.required]
    if required:
        out["required"] = required
    if description:
        out["description"] = description
    return out


def parse_instant(value: str) -> dt.datetime:
    """ISO 8601 with an offset, or a Copenhagen wall-clock time without one (a skipped time is refused)."""
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        return moment.astimezone(dt.UTC)
    return availability.to_utc(moment.date(), moment.hour * 60 + moment.minute, field="starts_at")


def _check(f: Field, value: Any, errors: dict[str, str], path: str) -> Any:
    if f.kind == "object":
        if not isinstance(value, dict):
            errors[path] = N_("This field is not valid.")
            return None
        return validate(f.fields, value, errors, prefix=path + ".")
    if f.kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) < value < 2**31:
            errors[path] = N_("This field is not valid.")
        elif (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
            errors[path] = N_("This number is out of range.")
        return value
    if not isinstance(value, str):
        errors[path] = N_("This field is not valid.")
        return None
    if f.max_length and len(value) > f.max_length:
        errors[path] = N_("This field is too long.")
    elif any(ord(ch) < 32 and not (f.kind == "text" and ch in "\r\n") for ch in value):
        errors[path] = N_("This field contains characters that are not allowed.")
    elif f.choices and value not in f.choices:
        errors[path] = N_("Choose one of the options.")
    elif f.kind == "datetime":
        try:
            return parse_instant(value)
        except InvalidInput as exc:
            errors[path] = next(iter(exc.errors.values()))
        except ValueError:
            errors[path] = N_("Enter a time like 2026-12-01T10:30:00+01:00.")
    elif f.kind == "date":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            errors[path] = N_("Enter a date like 2026-12-01.")
    return value if f.kind == "text" else value.strip()


def validate(
    fields: tuple[Field, ...], data: Any, errors: dict[str, str] | None = None, prefix: str = ""
) -> dict[str, Any]:
    """Clean values per ``fields``; unknown keys and type errors are reported per field (JSON-pointer-like)."""
    own = errors is None
    errors = {} if errors is None else errors
    if not isinstance(data, dict):
        raise InvalidInput({"body": N_("The request body must be a JSON object.")})
    known = {f.name for f in fields}
    for key in data:
        if key not in known:
            errors[prefix + str(key)[:50]] = N_("This field is not known.")
    clean: dict[str, Any] = {}
    for f in fields:
        if f.name not in data or data[f.name] is None:
            if f.required:
                errors[prefix + f.name] = N_("This field is required.")
            continue
        clean[f.name] = _check(f, data[f.name], errors, prefix + f.name)
    if own and errors:
        raise InvalidInput(errors)
    return clean


INTERPRETER = Field(
    "interpreter",
    "object",
    description="Book an interpreter for the appointment.",
    fields=(
        Field("name", "string", True, max_length=100),
        Field("language", "string", True, max_length=50),
        Field("email", "string", max_length=254),
        Field("phone", "string", max_length=20),
    ),
)

NEW_APPOINTMENT = (
    Field("citizen_id", "integer", True, "A citizen on the caller's caseload.", minimum=1),
    Field("kind", "enum", True, choices=("video", "home_visit")),
    Field(
        "starts_at",
        "datetime",
        True,
        "ISO 8601. With an offset it is an instant; without one it is Copenhagen time (a time skipped by "
        "the spring clock change is refused).",
    ),
    Field("duration_minutes", "integer", True, minimum=15, maximum=240),
    Field("note_to_citizen", "string", max_length=300),
    INTERPRETER,
)
CANCEL = (Field("reason", "string", True, max_length=300),)
MAX_OFFER = 64 * 1024  # a browser's offer with audio, video and its candidates is a few KiB
OFFER = (Field("sdp", "text", True, "The offer SDP, with its ICE candidates (no trickling).", max_length=MAX_OFFER),)

NOTE_DRAFT = tuple(
    Field(name, "text", True, "The field's whole text as typed so far.", max_length=notes.MAX_TEXT)
    for name in ("talked_about", "agreements", "assessment")
)

APPOINTMENT_OUT = object_schema(
    (
        Field("id", "integer"),
        Field("citizen_id", "integer"),
        Field("worker_id", "integer"),
        Field("kind", "enum", choices=("video", "home_visit")),
        Field("starts_at", "datetime"),
        Field("ends_at", "datetime"),
        Field("status", "enum", choices=("booked", "cancelled")),
        Field("response", "enum", choices=("none", "confirmed", "cant_come")),
        Field("cancelled_by", "enum", choices=("worker", "citizen")),
        Field("note_to_citizen", "string"),
        Field("attendance", "string"),
        Field("has_interpreter", "string", description="true or false"),
    )
)
ERROR_OUT = object_schema(
    (
        Field("error", "integer"),
        Field("message", "string"),
        Field("fields", "object", description="A message per field that was refused."),
    )
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    body: tuple[Field, ...] | None = None
    query: tuple[Field, ...] = ()
    responses: dict[int, str] = field(default_factory=dict)


def openapi(operations: list[Operation], base_url: str, describe: Callable[[int], str | None]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``operations``."""
    paths: dict[str, Any] = {}
    for op in operations:
        spec: dict[str, Any] = {"summary": op.summary, "responses": {}}
        params = (
            [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}] if "{id}" in op.path else []
        )
        params += [{"name": f.name, "in": "query", "required": f.required, "schema": f.schema()} for f in op.query]
        if op.method == "post" and op.path == "/api/v1/appointments":
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 100},
                    "description": "A retried request with the same key returns the same appointment.",
                }
            )
        if params:
            spec["parameters"] = params
        if op.body:
            spec["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": object_schema(op.body)}},
            }
        for status, ref in op.responses.items():
            schema = {"$ref": f"#/components/schemas/{ref}"}
            spec["responses"][str(status)] = {
                "description": describe(status),
                "content": {"application/json": {"schema": schema}},
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
            "Times are UTC in responses.",
        },
        "security": [{"apiKey": []}, {"session": []}],
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "vb_session"},
            },
            "schemas": {
                "Appointment": APPOINTMENT_OUT,
                "Error": ERROR_OUT,
                "AppointmentList": {
                    "type": "object",
                    "properties": {
                        "appointments": {"type": "array", "items": {"$ref": "#/components/schemas/Appointment"}}
                    },
                },
                "Slots": {
                    "type": "object",
                    "properties": {"slots": {"type": "array", "items": {"type": "string", "format": "date-time"}}},
                },
                "SessionDescription": {
                    "type": "object",
                    "properties": {"sdp": {"type": "string", "description": "The answer SDP."}},
                },
                "Session": {
                    "type": "object",
                    "properties": {
                        "staff_id": {"type": "integer"},
                        "role": {"type": "string"},
                        "csrf_token": {"type": "string"},
                    },
                },
                "NoteDraftSaved": {
                    "type": "object",
                    "properties": {
                        "version": {"type": "integer"},
                        "saved_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    }
