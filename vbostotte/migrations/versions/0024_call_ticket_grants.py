"""call ticket grants: a person's last used ticket in a call, by one index seek

``call_tickets (appointment_id, principal_kind, principal_id, used_at)`` finds the ticket a person is in a call by
(their last used one) without sorting: the call-access check asks it for everyone in a call every second
(vbostotte/calls/call_access.py).

Revision ID: 0024
Revises: 0023
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_call_tickets_grant", "call_tickets", ["appointment_id", "principal_kind", "principal_id", "used_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_call_tickets_grant", table_name="call_tickets")
