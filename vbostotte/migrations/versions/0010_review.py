"""supervisor review: travel minutes per home visit per team

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place (not batch mode): recreating a table on SQLite would drop triggers defined on it.
    # The driving time a video session saves is estimated as sessions held × the team's minutes per home visit.
    op.add_column("teams", sa.Column("travel_minutes", sa.Integer(), nullable=False, server_default="30"))


def downgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_column("travel_minutes")
