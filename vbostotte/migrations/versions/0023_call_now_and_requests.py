"""call now and "I'd like to talk": unscheduled video sessions and citizens' call requests

Adds ``appointments.unscheduled`` (a video session a worker started at once, not booked ahead; false for every
existing row) and ``call_requests`` (a citizen's one-tap "I'd like to talk to you", to one worker, and how it was
answered: called at once or a time proposed).

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("appointments", sa.Column("unscheduled", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "call_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(length=20), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["municipalities.id"], name=op.f("fk_call_requests_municipality_id_municipalities")
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_call_requests_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["worker_id"], ["staff.id"], name=op.f("fk_call_requests_worker_id_staff")),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_call_requests_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_requests")),
    )
    with op.batch_alter_table("call_requests", schema=None) as batch_op:
        batch_op.create_index("ix_call_requests_citizen_created", ["citizen_id", "created_at"], unique=False)
        batch_op.create_index("ix_call_requests_worker_answered", ["worker_id", "answered_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_call_requests_worker_answered")
        batch_op.drop_index("ix_call_requests_citizen_created")
    op.drop_table("call_requests")
    op.drop_column("appointments", "unscheduled")
