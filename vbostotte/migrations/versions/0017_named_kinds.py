"""named kinds: a call event keeps its participant's kind and id, an outbox message the time it was planned for

Adds ``call_events.participant_kind`` and ``participant_ref`` (filled from the participant id, "citizen-7" ->
citizen, 7) and ``outbox.planned_for`` (filled from the time in the message's ``dedupe_key``, whose third part
is the appointment's start or the day task's reminder time, ``purpose:id:20261123T070000Z:…``), so the code
reads columns instead of taking strings apart. Rows whose strings are not of that form keep None.

Columns are added and dropped in place (no table is recreated on SQLite); the backfill runs in Python, alike on SQLite
and PostgreSQL: one update per distinct participant id, and one per outbox row, in batches.

Revision ID: 0017
Revises: 0016
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

KINDS = ("staff", "citizen", "guest")  # models.PrincipalKind as it is at this revision
STAMP = "%Y%m%dT%H%M%SZ"
BATCH = 1000

call_events = sa.table(
    "call_events",
    sa.column("participant", sa.String),
    sa.column("participant_kind", sa.String),
    sa.column("participant_ref", sa.Integer),
)
outbox = sa.table(
    "outbox",
    sa.column("id", sa.Integer),
    sa.column("dedupe_key", sa.String),
    sa.column("planned_for", sa.DateTime(timezone=True)),
)


def parse_participant(participant: str) -> tuple[str, int] | None:
    kind, _, number = participant.partition("-")
    if kind not in KINDS or not (number.isascii() and number.isdigit()):
        return None
    return kind, int(number)


def planned_for(dedupe_key: str) -> dt.datetime | None:
    parts = dedupe_key.split(":")
    try:
        return dt.datetime.strptime(parts[2], STAMP).replace(tzinfo=dt.UTC) if len(parts) > 2 else None
    except ValueError:
        return None


def upgrade() -> None:
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("participant_kind", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("participant_ref", sa.Integer(), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_for", sa.DateTime(timezone=True), nullable=True))

    conn = op.get_bind()
    participants = conn.execute(sa.select(call_events.c.participant).distinct()).scalars().all()
    for participant in participants:
        parsed = parse_participant(participant)
        if parsed is not None:
            conn.execute(
                call_events.update()
                .where(call_events.c.participant == participant)
                .values(participant_kind=parsed[0], participant_ref=parsed[1])
            )

    keys = conn.execute(sa.select(outbox.c.id, outbox.c.dedupe_key)).all()
    updates = [{"row_id": id_, "at": at} for id_, key in keys if (at := planned_for(key)) is not None]
    statement = outbox.update().where(outbox.c.id == sa.bindparam("row_id")).values(planned_for=sa.bindparam("at"))
    for start in range(0, len(updates), BATCH):
        conn.execute(statement, updates[start : start + BATCH])


def downgrade() -> None:
    # In place (SQLite 3.35+ drops a plain column): copying the outbox on SQLite would lose its day_task_id
    # foreign key's ON DELETE, which SQLite's reflection does not read back.
    with op.batch_alter_table("outbox", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("planned_for")
    with op.batch_alter_table("call_events", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("participant_ref")
        batch_op.drop_column("participant_kind")
