"""Who is acting: a staff member, a citizen on their own device, or nobody yet."""

from __future__ import annotations

from dataclasses import dataclass

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

    def has_role(self, *roles: StaffRole) -> bool:
        return self.is_staff and self.role in {r.value for r in roles}


ANONYMOUS = Actor(kind="anonymous")
SYSTEM = Actor(kind="system", role="system")
