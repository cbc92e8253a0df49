"""consent kinds, versioned texts and hash-chained consent events

Creates the consent tables (events and versions append-only, by trigger, like the audit log), gives
every existing municipality the built-in kinds and a chain head, copies each citizen's reminder
preference into consent events (how = "migrated", recorded by the system), and drops the preference.

Revision ID: 0006
Revises: 0005
"""

import datetime as dt
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

from vbostotte.privacy.consent import DEFAULT_KINDS, GENESIS, event_hash, text_sha256

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("consent_events", "consent_versions")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consent_kinds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["municipalities.id"], name=op.f("fk_consent_kinds_municipality_id_municipalities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_kinds")),
        sa.UniqueConstraint("municipality_id", "code", name="uq_consent_kinds_municipality_code"),
    )
    op.create_index(op.f("ix_consent_kinds_municipality_id"), "consent_kinds", ["municipality_id"], unique=False)
    op.create_table(
        "consent_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title_da", sa.String(length=100), nullable=False),
        sa.Column("text_da", sa.String(length=1000), nullable=False),
        sa.Column("title_en", sa.String(length=100), nullable=False),
        sa.Column("text_en", sa.String(length=1000), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["staff.id"], name=op.f("fk_consent_versions_created_by_id_staff")),
        sa.ForeignKeyConstraint(
            ["kind_id"], ["consent_kinds.id"], name=op.f("fk_consent_versions_kind_id_consent_kinds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_versions")),
        sa.UniqueConstraint("kind_id", "version", name="uq_consent_versions_kind_version"),
    )
    op.create_index(op.f("ix_consent_versions_kind_id"), "consent_versions", ["kind_id"], unique=False)
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("kind_id", sa.Integer(), nullable=False),
        sa.Column("kind_code", sa.String(length=40), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("how", sa.String(length=20), nullable=False),
        sa.Column("recorded_by_kind", sa.String(length=10), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"], name=op.f("fk_consent_events_citizen_id_citizens")),
        sa.ForeignKeyConstraint(
            ["kind_id"], ["consent_kinds.id"], name=op.f("fk_consent_events_kind_id_consent_kinds")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["municipalities.id"], name=op.f("fk_consent_events_municipality_id_municipalities")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["consent_versions.id"], name=op.f("fk_consent_events_version_id_consent_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("municipality_id", "seq", name="uq_consent_events_municipality_seq"),
    )
    op.create_index("ix_consent_events_citizen_kind", "consent_events", ["citizen_id", "kind_id"], unique=False)
    op.create_table(
        "consent_heads",
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"], ["municipalities.id"], name=op.f("fk_consent_heads_municipality_id_municipalities")
        ),
        sa.PrimaryKeyConstraint("municipality_id", name=op.f("pk_consent_heads")),
    )
    _append_only_triggers()
    _seed_and_copy_preferences()
    op.drop_table("reminder_preferences")


def _append_only_triggers() -> None:
    """Refuse UPDATE and DELETE on consent events and text versions in the database itself."""
    bind = op.get_bind()
    for table in APPEND_ONLY_TABLES:
        if bind.dialect.name == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        else:
            op.execute(
                f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
            )


def _seed_and_copy_preferences() -> None:
    """Built-in kinds and a chain head for every municipality; each "yes" of the old reminder preference
    becomes a consent event (how = "migrated"), so nobody's reminders stop or start by the upgrade."""
    bind = op.get_bind()
    meta = sa.MetaData()
    kinds = sa.Table("consent_kinds", meta, autoload_with=bind)
    versions = sa.Table("consent_versions", meta, autoload_with=bind)
    events = sa.Table("consent_events", meta, autoload_with=bind)
    heads = sa.Table("consent_heads", meta, autoload_with=bind)
    now = dt.datetime.now(dt.UTC)
    preferences = bind.execute(
        sa.text(
            "SELECT p.citizen_id, p.email, p.sms, c.municipality_id FROM reminder_preferences p "
            "JOIN citizens c ON c.id = p.citizen_id ORDER BY p.citizen_id"
        )
    ).all()
    for (municipality_id,) in bind.execute(sa.text("SELECT id FROM municipalities ORDER BY id")).all():
        version_of = {}
        for position, (code, text) in enumerate(DEFAULT_KINDS):
            kind_id = bind.execute(
                kinds.insert()
                .values(municipality_id=municipality_id, code=code, position=position, created_at=now)
                .returning(kinds.c.id)
            ).scalar_one()
            sha = text_sha256(text)
            version_id = bind.execute(
                versions.insert()
                .values(kind_id=kind_id, version=1, **text.__dict__, text_sha256=sha, created_at=now)
                .returning(versions.c.id)
            ).scalar_one()
            version_of[code] = (kind_id, version_id, sha)
        seq, last_hash = 0, GENESIS
        for citizen_id, email, sms, citizen_municipality in preferences:
            if citizen_municipality != municipality_id:
                continue
            for code, wanted in (("email_reminders", email), ("sms_reminders", sms)):
                if not wanted:
                    continue
                kind_id, version_id, sha = version_of[code]
                event = SimpleNamespace(
                    municipality_id=municipality_id,
                    seq=seq + 1,
                    at=now,
                    citizen_id=citizen_id,
                    kind_id=kind_id,
                    kind_code=code,
                    version_id=version_id,
                    version=1,
                    text_sha256=sha,
                    action="given",
                    how="migrated",
                    recorded_by_kind="system",
                    recorded_by_id=None,
                    prev_hash=last_hash,
                )
                event.hash = event_hash(event)
                bind.execute(events.insert().values(**vars(event)))
                seq, last_hash = event.seq, event.hash
        bind.execute(heads.insert().values(municipality_id=municipality_id, last_seq=seq, last_hash=last_hash))


def downgrade() -> None:
    op.create_table(
        "reminder_preferences",
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("sms", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_reminder_preferences_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("citizen_id", name=op.f("pk_reminder_preferences")),
    )
    # The current reminder consents become the preference again (the latest event per kind wins).
    op.execute(
        "INSERT INTO reminder_preferences (citizen_id, email, sms) "
        "SELECT c.id, "
        "  COALESCE((SELECT e.action = 'given' FROM consent_events e WHERE e.citizen_id = c.id "
        "            AND e.kind_code = 'email_reminders' ORDER BY e.seq DESC LIMIT 1), false), "
        "  COALESCE((SELECT e.action = 'given' FROM consent_events e WHERE e.citizen_id = c.id "
        "            AND e.kind_code = 'sms_reminders' ORDER BY e.seq DESC LIMIT 1), false) "
        "FROM citizens c WHERE EXISTS (SELECT 1 FROM consent_events e WHERE e.citizen_id = c.id "
        "  AND e.kind_code IN ('email_reminders', 'sms_reminders'))"
    )
    if op.get_bind().dialect.name != "sqlite":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
    op.drop_table("consent_heads")
    op.drop_index("ix_consent_events_citizen_kind", table_name="consent_events")
    op.drop_table("consent_events")
    op.drop_index(op.f("ix_consent_versions_kind_id"), table_name="consent_versions")
    op.drop_table("consent_versions")
    op.drop_index(op.f("ix_consent_kinds_municipality_id"), table_name="consent_kinds")
    op.drop_table("consent_kinds")
