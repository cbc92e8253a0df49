"""session notes (drafts, signed versions, amendments) and goals with steps

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def _indexes(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "not_started", "under_way", "achieved", "dropped", name="goal_status", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_goals_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["staff.id"], name=op.f("fk_goals_created_by_id_staff")),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["municipalities.id"], name=op.f("fk_goals_municipality_id_municipalities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    _indexes("goals", "municipality_id", "citizen_id")
    op.create_table(
        "goal_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("done_at", UTC, nullable=True),
        sa.Column("done_by_kind", sa.String(length=10), nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["goal_id"], ["goals.id"], name=op.f("fk_goal_steps_goal_id_goals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_steps")),
    )
    _indexes("goal_steps", "goal_id")
    op.create_table(
        "goal_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["goal_id"], ["goals.id"], name=op.f("fk_goal_events_goal_id_goals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["step_id"], ["goal_steps.id"], name=op.f("fk_goal_events_step_id_goal_steps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_events")),
    )
    _indexes("goal_events", "goal_id")
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("shared_with_citizen", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"], ["appointments.id"], name=op.f("fk_notes_appointment_id_appointments")
        ),
        sa.ForeignKeyConstraint(["author_id"], ["staff.id"], name=op.f("fk_notes_author_id_staff")),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_notes_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["municipalities.id"], name=op.f("fk_notes_municipality_id_municipalities")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_notes_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    _indexes("notes", "municipality_id", "citizen_id", "appointment_id", "author_id", "team_id")
    op.create_table(
        "note_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("talked_about", sa.Text(), nullable=False),
        sa.Column("agreements", sa.Text(), nullable=False),
        sa.Column("assessment", sa.Text(), nullable=False),
        sa.Column(
            "status", sa.Enum("draft", "signed", name="note_status", native_enum=False, length=20), nullable=False
        ),
        sa.Column("amends_reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("signed_at", UTC, nullable=True),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["note_id"], ["notes.id"], name=op.f("fk_note_versions_note_id_notes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["signed_by_id"], ["staff.id"], name=op.f("fk_note_versions_signed_by_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_versions")),
        sa.UniqueConstraint("note_id", "number", name="uq_note_versions_note_number"),
    )
    _indexes("note_versions", "note_id")
    op.create_table(
        "note_version_goals",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["goal_id"], ["goals.id"], name=op.f("fk_note_version_goals_goal_id_goals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["note_versions.id"],
            name=op.f("fk_note_version_goals_version_id_note_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "goal_id", name=op.f("pk_note_version_goals")),
    )
    _indexes("note_version_goals", "goal_id")
    _signed_versions_are_final()


def _signed_versions_are_final() -> None:
    """Defence in depth: the database itself refuses to change a signed note version or add goals to it.

    Deleting is left to ON DELETE CASCADE (erasing a whole citizen is a decision above a single note; the app
    never deletes a note version or a goal).
    """
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER note_versions_signed_no_update BEFORE UPDATE ON note_versions "
            "WHEN OLD.status = 'signed' BEGIN SELECT RAISE(ABORT, 'a signed note version is final'); END"
        )
        op.execute(
            "CREATE TRIGGER note_version_goals_signed_no_insert BEFORE INSERT ON note_version_goals "
            "WHEN (SELECT status FROM note_versions WHERE id = NEW.version_id) = 'signed' "
            "BEGIN SELECT RAISE(ABORT, 'a signed note version is final'); END"
        )
        return
    op.execute(
        "CREATE FUNCTION note_versions_signed_final() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF OLD.status = 'signed' THEN RAISE EXCEPTION 'a signed note version is final'; END IF; "
        "RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER note_versions_signed_final BEFORE UPDATE ON note_versions "
        "FOR EACH ROW EXECUTE FUNCTION note_versions_signed_final()"
    )
    op.execute(
        "CREATE FUNCTION note_version_goals_signed_final() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF (SELECT status FROM note_versions WHERE id = NEW.version_id) = 'signed' THEN "
        "RAISE EXCEPTION 'a signed note version is final'; END IF; RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER note_version_goals_signed_final BEFORE INSERT ON note_version_goals "
        "FOR EACH ROW EXECUTE FUNCTION note_version_goals_signed_final()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS note_version_goals_signed_final ON note_version_goals")
        op.execute("DROP FUNCTION IF EXISTS note_version_goals_signed_final()")
        op.execute("DROP TRIGGER IF EXISTS note_versions_signed_final ON note_versions")
        op.execute("DROP FUNCTION IF EXISTS note_versions_signed_final()")
    for table in ("note_version_goals", "note_versions", "notes", "goal_events", "goal_steps", "goals"):
        op.drop_table(table)
