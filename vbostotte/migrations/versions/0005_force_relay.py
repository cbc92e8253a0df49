"""citizens: force calls through the TURN relay

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place (not batch mode): recreating a table on SQLite would drop triggers defined on it.
    op.add_column("citizens", sa.Column("force_relay", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.drop_column("force_relay")
