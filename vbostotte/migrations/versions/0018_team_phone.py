"""team phone: the number citizens call to reach their team, set by the administrator

Adds ``teams.phone`` (nullable: a team has none until the administrator sets it). The column is added and dropped in
place (no table is recreated on SQLite).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("teams", sa.Column("phone", sa.String(length=20), nullable=True))


def downgrade() -> None:
    op.drop_column("teams", "phone")
