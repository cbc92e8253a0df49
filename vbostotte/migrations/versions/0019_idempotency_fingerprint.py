"""idempotency fingerprint: the hash of the booking request an Idempotency-Key was first used with

Adds ``appointments.idempotency_hash`` (nullable: rows booked before this migration, and bookings without a key,
have none; a replay of such an old key is accepted as before). A key sent again with a different request body is
refused with 422 (the IETF idempotency-key draft's rule). The column is added and dropped in place.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("appointments", sa.Column("idempotency_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("appointments", "idempotency_hash")
