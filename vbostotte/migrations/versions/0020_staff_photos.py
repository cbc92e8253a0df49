"""staff photos: a worker's own photo, shown to their citizens in the call's waiting room

Adds the table ``staff_photos`` (one row per staff member who has added a photo: the re-encoded image bytes, its
type, when it was set). The photo is kept in the database, not on disk, so every process and the backups have it and
it goes with the staff member (``ON DELETE CASCADE``); it is at most a few tens of kilobytes after re-encoding.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_photos",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=20), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_photos_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["municipalities.id"], name=op.f("fk_staff_photos_municipality_id_municipalities")
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff_photos")),
    )
    op.create_index(op.f("ix_staff_photos_municipality_id"), "staff_photos", ["municipality_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_photos_municipality_id"), table_name="staff_photos")
    op.drop_table("staff_photos")
