"""web sessions record the token that opened them (revoking it ends the session)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 06:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_web_sessions_token_id"), ["token_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_web_sessions_token_id_api_tokens"), "api_tokens", ["token_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_web_sessions_token_id_api_tokens"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_web_sessions_token_id"))
        batch_op.drop_column("token_id")
