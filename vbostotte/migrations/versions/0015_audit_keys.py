"""keyed audit and consent chains; the chains' heads only move forward; the application's role may append to
the chains but never change or remove them (PostgreSQL)

* ``audit_entries.key_id`` and ``consent_events.key_id``: the id of the HMAC key a row's hash was made with
  (``vbostotte/audit/keys.py``). Rows already there keep NULL: they were made with plain SHA-256 and are
  accepted by the verifier only before the first keyed row of their chain. No key is needed to migrate, and
  none is ever written to the database.
* ``audit_head`` and ``consent_heads`` refuse, by trigger, to move backwards (a smaller last id or number), to
  change the hash of the same position, and to be deleted (SQLite and PostgreSQL).
* PostgreSQL: the role ``vbostotte_app`` (NOLOGIN; the deployment logs in as a member of it, or gives it a
  password, see docs/deployment.md) gets SELECT, INSERT, UPDATE and DELETE on the tables, except that on
  ``audit_entries``, ``consent_events`` and ``consent_versions`` it may only SELECT and INSERT, on
  ``audit_head`` only SELECT and UPDATE (forward, by the trigger), on ``consent_heads`` SELECT, INSERT and
  UPDATE, and on ``alembic_version`` only SELECT; never TRUNCATE. Tables made by later migrations get the
  plain grants by default privileges (an append-only table must revoke UPDATE and DELETE in its migration).
  Migrations keep running as the owner. The role is made when missing; without the CREATEROLE privilege the
  migration says so (NOTICE) and leaves the grants for a database administrator.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

APP_ROLE = "vbostotte_app"
APPEND_ONLY = ("audit_entries", "consent_events", "consent_versions")
# (table, position column): the heads of the chains.
HEADS = (("audit_head", "last_id"), ("consent_heads", "last_seq"))


def upgrade() -> None:
    op.add_column("audit_entries", sa.Column("key_id", sa.String(length=16), nullable=True))
    op.add_column("consent_events", sa.Column("key_id", sa.String(length=16), nullable=True))
    _heads_only_move_forward()
    if op.get_bind().dialect.name == "postgresql":
        _application_role()


def _heads_only_move_forward() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, position in HEADS:
        message = f"{table} only moves forward"
        if sqlite:
            op.execute(
                f"CREATE TRIGGER {table}_forward BEFORE UPDATE ON {table} "
                f"WHEN NEW.{position} < OLD.{position} "
                f"OR (NEW.{position} = OLD.{position} AND NEW.last_hash <> OLD.last_hash) "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        else:
            op.execute(
                f"CREATE FUNCTION {table}_forward() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF TG_OP = 'DELETE' OR NEW.{position} < OLD.{position} "
                f"OR (NEW.{position} = OLD.{position} AND NEW.last_hash <> OLD.last_hash) THEN "
                f"RAISE EXCEPTION '{message}'; END IF; RETURN NEW; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {table}_forward BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_forward()"
            )


def _application_role() -> None:
    # Roles belong to the whole cluster: another database's migration may make it at the same moment.
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                BEGIN
                    CREATE ROLE {APP_ROLE} NOLOGIN;
                EXCEPTION
                    WHEN duplicate_object OR unique_violation THEN NULL;
                    WHEN insufficient_privilege THEN
                        RAISE NOTICE 'role {APP_ROLE} not made (no CREATEROLE privilege): see docs/deployment.md';
                END;
            END IF;
        END $$""")
    exists = op.get_bind().execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": APP_ROLE}).scalar()
    if not exists:
        return
    op.execute(f"""
        DO $$ BEGIN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {APP_ROLE}', current_schema());
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'USAGE on the schema not granted to {APP_ROLE}: see docs/deployment.md';
        END $$""")
    op.execute(
        f"DO $$ BEGIN "
        f"EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {APP_ROLE}', "
        f"current_schema()); "
        f"EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {APP_ROLE}', "
        f"current_schema()); "
        f"END $$"
    )
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {', '.join(APPEND_ONLY)} FROM {APP_ROLE}")
    op.execute(f"REVOKE INSERT, DELETE, TRUNCATE ON audit_head FROM {APP_ROLE}")
    op.execute(f"REVOKE DELETE, TRUNCATE ON consent_heads FROM {APP_ROLE}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        if bind.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": APP_ROLE}).scalar():
            # The role stays (it belongs to the cluster and may serve other databases); its rights here go.
            op.execute(f"ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM {APP_ROLE}")
            op.execute(f"ALTER DEFAULT PRIVILEGES REVOKE ALL ON SEQUENCES FROM {APP_ROLE}")
            op.execute(
                f"DO $$ BEGIN "
                f"EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {APP_ROLE}', current_schema()); "
                f"EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM {APP_ROLE}', "
                f"current_schema()); "
                f"EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM {APP_ROLE}', current_schema()); "
                f"END $$"
            )
        for table, _position in HEADS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_forward ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_forward()")
    else:
        for table, _position in HEADS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_forward")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.drop_column("consent_events", "key_id")
    op.drop_column("audit_entries", "key_id")
