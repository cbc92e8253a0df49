"""The API's contract, held in every test: each answer a test client receives from ``/api/v1/`` must be one the
OpenAPI document allows — a documented status for its operation, JSON, and a body valid against that status's
schema (JSON Schema 2020-12 with formats, by jsonschema: a validator independent of the pydantic models the document
is generated from). tests/conftest.py gives every ``aiohttp_client`` the response class below."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from aiohttp import ClientResponse
from jsonschema import Draft202012Validator, FormatChecker

from vbostotte.web import api_models

CHECKED = "/api/v1/"


@cache
def document() -> dict[str, Any]:
    """The document the app serves (its server URL aside)."""
    return api_models.openapi("http://127.0.0.1")


@cache
def _operations() -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
    return [
        (method.upper(), re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), operation)
        for path, methods in document()["paths"].items()
        for method, operation in methods.items()
    ]


def problems(method: str, path: str, status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with this answer by the document (nothing for a path the document does not describe)."""
    operation = next((op for m, pattern, op in _operations() if m == method and pattern.match(path)), None)
    if operation is None:
        return []
    where = f"{method} {path} → {status}"
    response = operation["responses"].get(str(status))
    if response is None:
        return [f"{where}: the status is not documented for this operation"]
    if content_type != "application/json":
        return [f"{where}: Content-Type {content_type}, not application/json"]
    try:
        data = json.loads(body)
    except ValueError:
        return [f"{where}: the body is not JSON"]
    # The response's schema as the root, with the document's components beside it so its $refs resolve.
    schema = {**response["content"]["application/json"]["schema"], "components": document()["components"]}
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [f"{where}: {error.json_path}: {error.message}" for error in validator.iter_errors(data)]


class CheckedResponse(ClientResponse):
    """A client response that, for ``/api/v1/``, reads its body on arrival and fails the test if the answer breaks
    the document (the body stays readable: ``json()`` and ``text()`` use what was read)."""

    async def start(self, connection):  # type: ignore[no-untyped-def]
        response = await super().start(connection)
        if self.url.path.startswith(CHECKED):
            body = await self.read()
            found = problems(self.method, self.url.path, self.status, self.content_type, body)
            assert not found, "the API broke its OpenAPI document:\n" + "\n".join(found)
        return response
