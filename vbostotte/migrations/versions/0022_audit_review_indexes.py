"""audit review indexes: the access log filtered by staff member or action, newest first, paged by id

``audit_entries (actor_id, id)`` and ``(action, id)`` serve a filter on a staff member or an action newest first
(one page, then the next by ``id < last shown``) without walking the whole log; ``(municipality_id, action)``
lists the actions that occur in a municipality by a few index seeks (the action filter's choices).

Revision ID: 0022
Revises: 0021
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_entries_actor_id_id", "audit_entries", ["actor_id", "id"])
    op.create_index("ix_audit_entries_action_id", "audit_entries", ["action", "id"])
    op.create_index("ix_audit_entries_municipality_action", "audit_entries", ["municipality_id", "action"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_municipality_action", table_name="audit_entries")
    op.drop_index("ix_audit_entries_action_id", table_name="audit_entries")
    op.drop_index("ix_audit_entries_actor_id_id", table_name="audit_entries")
