"""staff: the last TOTP time step accepted (each code logs in once); TURN credentials handed out for the
connection test (counted per person)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added in place (not batch mode): recreating a table on SQLite would drop triggers defined on it.
    op.add_column("staff", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "turn_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal_kind", sa.String(length=10), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turn_grants")),
    )
    op.create_index(
        "ix_turn_grants_principal_at", "turn_grants", ["principal_kind", "principal_id", "issued_at"], unique=False
    )
    op.create_index(op.f("ix_turn_grants_issued_at"), "turn_grants", ["issued_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_turn_grants_issued_at"), table_name="turn_grants")
    op.drop_index("ix_turn_grants_principal_at", table_name="turn_grants")
    op.drop_table("turn_grants")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
