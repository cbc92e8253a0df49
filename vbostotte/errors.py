"""Domain errors. They know nothing of HTTP; one middleware maps them to responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from vbostotte.i18n import N_

Afterwards = Callable[[Any], Awaitable[Any]]


class DomainError(Exception):
    """Base of every error a service raises on purpose. ``message`` is a translatable msgid."""

    message = N_("Something went wrong.")

    def __init__(self, message: str | None = None, **params: Any) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message
        self.params = params
        self.afterwards: list[Afterwards] = []

    def then(self, work: Afterwards) -> DomainError:
        """Attach work (given a fresh database session) to run after the request's writes are rolled back.

        Used for what must be kept even though the request failed: a denied-access audit entry,
        a failed login counted for throttling.
        """
        self.afterwards.append(work)
        return self


class NotFound(DomainError):
    """The object does not exist, or the actor may not know that it exists."""

    message = N_("The page was not found.")


class PermissionDenied(DomainError):
    """The actor is known but may not do this (a role question, never an object question)."""

    message = N_("You do not have access to this page.")


class NotAuthenticated(DomainError):
    """No valid session."""

    message = N_("Please log in.")


class Throttled(DomainError):
    """Too many attempts."""

    message = N_("Too many attempts. Please wait a few minutes and try again.")


class Conflict(DomainError):
    """The request clashes with the current state."""

    message = N_("This has changed in the meantime. Please reload and try again.")


class InvalidInput(DomainError):
    """Input failed validation. ``errors`` maps a field name to a translatable message."""

    message = N_("Please correct the marked fields.")

    def __init__(self, errors: dict[str, str], message: str | None = None) -> None:
        super().__init__(message)
        self.errors = errors
