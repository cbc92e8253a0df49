"""wellbeing check-ins and the citizen's day plan

Creates check-ins, day-plan tasks and day grades, and gives the outbox a ``day_task_id`` for a task's
reminder (added in place, not in batch mode: recreating a table on SQLite would drop its triggers).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("words", sa.String(length=200), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("followed_up_at", UTC, nullable=True),
        sa.Column("followed_up_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_checkins_level")),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_checkins_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["followed_up_by_id"], ["staff.id"], name=op.f("fk_checkins_followed_up_by_id_staff")),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["municipalities.id"], name=op.f("fk_checkins_municipality_id_municipalities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
    )
    op.create_index("ix_checkins_citizen_id_at", "checkins", ["citizen_id", "at"], unique=False)
    op.create_index(op.f("ix_checkins_municipality_id"), "checkins", ["municipality_id"], unique=False)

    op.create_table(
        "day_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("remind_at", UTC, nullable=True),
        sa.Column("done_at", UTC, nullable=True),
        sa.Column("created_by", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_day_tasks_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["municipalities.id"], name=op.f("fk_day_tasks_municipality_id_municipalities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_tasks")),
    )
    op.create_index("ix_day_tasks_citizen_id_day", "day_tasks", ["citizen_id", "day"], unique=False)
    op.create_index(op.f("ix_day_tasks_municipality_id"), "day_tasks", ["municipality_id"], unique=False)

    op.create_table(
        "day_grades",
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.CheckConstraint("grade BETWEEN 1 AND 5", name=op.f("ck_day_grades_grade")),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_day_grades_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["municipalities.id"], name=op.f("fk_day_grades_municipality_id_municipalities")
        ),
        sa.PrimaryKeyConstraint("citizen_id", "day", name=op.f("pk_day_grades")),
    )
    op.create_index(op.f("ix_day_grades_municipality_id"), "day_grades", ["municipality_id"], unique=False)

    # In place (not batch mode): recreating a table on SQLite would drop its triggers. SQLite cannot add a
    # constraint to an existing table, but it can add a column with an inline REFERENCES clause.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE outbox ADD COLUMN day_task_id INTEGER "
            "CONSTRAINT fk_outbox_day_task_id_day_tasks REFERENCES day_tasks (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("outbox", sa.Column("day_task_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_outbox_day_task_id_day_tasks"), "outbox", "day_tasks", ["day_task_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index(op.f("ix_outbox_day_task_id"), "outbox", ["day_task_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_day_task_id"), table_name="outbox")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column in a foreign key in place: copy the table (the outbox has no triggers).
        with op.batch_alter_table("outbox", schema=None) as batch_op:
            batch_op.drop_column("day_task_id")
    else:
        op.drop_constraint(op.f("fk_outbox_day_task_id_day_tasks"), "outbox", type_="foreignkey")
        op.drop_column("outbox", "day_task_id")
    op.drop_index(op.f("ix_day_grades_municipality_id"), table_name="day_grades")
    op.drop_table("day_grades")
    op.drop_index(op.f("ix_day_tasks_municipality_id"), table_name="day_tasks")
    op.drop_index("ix_day_tasks_citizen_id_day", table_name="day_tasks")
    op.drop_table("day_tasks")
    op.drop_index(op.f("ix_checkins_municipality_id"), table_name="checkins")
    op.drop_index("ix_checkins_citizen_id_at", table_name="checkins")
    op.drop_table("checkins")
