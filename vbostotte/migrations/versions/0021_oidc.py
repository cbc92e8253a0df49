"""oidc: staff sign in with the municipality's own OpenID Connect provider (issue 15)

Adds ``oidc_providers`` (one per municipality: issuer, client, the client secret encrypted with a key derived from
the server's secret key, how a login maps to a staff member, the role claim, strong-authentication values, whether
just-in-time creation and local password login are on), ``oidc_logins`` (a sign-in under way: the hash of its
``state``, the browser it belongs to, its ``nonce`` and PKCE verifier; deleted when used, so each is single-use),
``staff.oidc_subject`` (the provider's stable subject, unique per municipality) and ``web_sessions.oidc_id_token``
(kept for RP-initiated logout's ``id_token_hint``). Only columns and tables are added: no table is recreated.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_providers",
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("issuer", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("client_id", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("client_secret_enc", sa.Text(), nullable=False, server_default=""),
        sa.Column("scopes", sa.String(length=200), nullable=False, server_default="openid email profile"),
        sa.Column("match_email", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("role_claim", sa.String(length=100), nullable=False, server_default=""),
        sa.Column("worker_groups", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("supervisor_groups", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("admin_groups", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("strong_acr", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("strong_amr", sa.String(length=300), nullable=False, server_default=""),
        sa.Column("jit_create", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("password_login", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipalities.id"],
            name=op.f("fk_oidc_providers_municipality_id_municipalities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("municipality_id", name=op.f("pk_oidc_providers")),
    )
    op.create_table(
        "oidc_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=100), nullable=False),
        sa.Column("code_verifier", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipalities.id"],
            name=op.f("fk_oidc_logins_municipality_id_municipalities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oidc_logins")),
    )
    op.create_index(op.f("ix_oidc_logins_expires_at"), "oidc_logins", ["expires_at"], unique=False)
    op.add_column("staff", sa.Column("oidc_subject", sa.String(length=255), nullable=True))
    op.create_index("uq_staff_municipality_oidc_subject", "staff", ["municipality_id", "oidc_subject"], unique=True)
    op.add_column("web_sessions", sa.Column("oidc_id_token", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("web_sessions", "oidc_id_token")
    op.drop_index("uq_staff_municipality_oidc_subject", table_name="staff")
    op.drop_column("staff", "oidc_subject")
    op.drop_index(op.f("ix_oidc_logins_expires_at"), table_name="oidc_logins")
    op.drop_table("oidc_logins")
    op.drop_table("oidc_providers")
