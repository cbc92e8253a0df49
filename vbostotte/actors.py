"""Who is acting: a staff member, a citizen on their own device, or nobody yet."""

from __future__ import annotations

from dataclasses import dataclass

from vbostotte.errors import NotAuthenticated
from vbostotte.models import StaffRole


@dataclass(frozen=True)
class Actor:
    """The authenticated principal of a request, as the services and the audit log see it."""

    kind: str  # "staff" | "citizen" | "anonymous" | "system"
    id: int | None = None
    municipality_id: int | None = None
    role: str = "anonymous"  # a StaffRole value, "citizen", "anonymous" or "system"
    name: str = ""

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_citizen(self) -> bool:
        return self.kind == "citizen"

    @property
    def known_id(self) -> int:
        """``id`` of a signed-in staff member or citizen; nobody else has one (NotAuthenticated)."""
        if self.id is None:
            raise NotAuthenticated()
        return self.id

    @property
    def known_municipality_id(self) -> int:
        """``municipality_id`` of a signed-in staff member or citizen; nobody else has one (NotAuthenticated)."""
        if self.municipality_id is None:
            raise NotAuthenticated()
        return self.municipality_id

    def has_role(self, *roles: StaffRole) -> bool:
        return self.is_staff and self.role in {r.value for r in roles}


ANONYMOUS = Actor(kind="anonymous")
SYSTEM = Actor(kind="system", role="system")
