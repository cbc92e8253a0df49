"""supervisor review: indexes for the statistics on a year of data

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Created in place (not batch mode): recreating a table on SQLite would drop the triggers defined on it.
    # The statistics, the session list and the pilot export select a municipality's appointments by period:
    # with this index their cost follows the period asked for, not the years of history kept.
    op.create_index("ix_appointments_municipality_starts", "appointments", ["municipality_id", "starts_at"])
    # The waiting times are read from the citizens' admissions only: (appointment, event) finds them directly.
    op.create_index("ix_call_events_appointment_event", "call_events", ["appointment_id", "event"])


def downgrade() -> None:
    op.drop_index("ix_call_events_appointment_event", table_name="call_events")
    op.drop_index("ix_appointments_municipality_starts", table_name="appointments")
