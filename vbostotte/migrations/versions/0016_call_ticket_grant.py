"""a call ticket remembers the access that asked for it: the web session, and the appointment's time then

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("slot_starts_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_tickets", schema=None) as batch_op:
        batch_op.drop_column("slot_starts_at")
        batch_op.drop_column("session_hash")
