"""standing sign-offs with a four-eyes constraint; governed policy changes

Adds ``sign_offs`` (one row per standing sign-off; primary key (version_id,
role) and unique (version_id, user), so one person can never hold both the
validator's and the approver's sign-off of one version), and
``policy_changes`` / ``policy_change_sign_offs`` (a weakening of a model's
risk tier or policy waits for a second person's sign-off).

Existing data: the standing sign-offs are rebuilt by replaying ``approvals``
in order (a rejection by a role withdraws that role's sign-off). Where one
person holds both roles on a version (the race this migration closes), only
their earlier sign-off is kept; the later one no longer counts, and
``approvals`` still records it.

Self-contained: it only adds tables and reads ``approvals``.

Revision ID: i13_governance_signoffs
Revises: 0005
Create Date: 2026-12-06 23:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "i13_governance_signoffs"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sign_offs = op.create_table(
        "sign_offs",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=255), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approval_id"], ["approvals.id"], name=op.f("fk_sign_offs_approval_id_approvals")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_sign_offs_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("version_id", "role", name=op.f("pk_sign_offs")),
        sa.UniqueConstraint("version_id", "user", name="uq_sign_offs_version_user"),
    )
    op.create_table(
        "policy_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("required_roles", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_policy_changes_model_id_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_changes")),
    )
    with op.batch_alter_table("policy_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_changes_model_id"), ["model_id"], unique=False)
    op.create_table(
        "policy_change_sign_offs",
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=255), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["policy_changes.id"],
            name=op.f("fk_policy_change_sign_offs_change_id_policy_changes"),
        ),
        sa.PrimaryKeyConstraint("change_id", "role", name=op.f("pk_policy_change_sign_offs")),
        sa.UniqueConstraint("change_id", "user", name="uq_policy_change_sign_offs_change_user"),
    )
    op.bulk_insert(sign_offs, _standing_sign_offs())


def _standing_sign_offs() -> list[dict]:
    """Replay the decision history into the sign-offs that stand, one role per person."""
    approvals = sa.table(
        "approvals",
        sa.column("id", sa.Integer()),
        sa.column("version_id", sa.Integer()),
        sa.column("role", sa.String()),
        sa.column("user", sa.String()),
        sa.column("decision", sa.String()),
        sa.column("created_at", sa.BigInteger()),
    )
    rows = op.get_bind().execute(
        sa.select(
            approvals.c.id,
            approvals.c.version_id,
            approvals.c.role,
            approvals.c.user,
            approvals.c.decision,
            approvals.c.created_at,
        ).order_by(approvals.c.id)
    )
    standing: dict[int, dict[str, tuple[int, str, int]]] = {}
    for approval_id, version_id, role, user, decision, created_at in rows:
        roles = standing.setdefault(version_id, {})
        if decision == "approved":
            roles[role] = (approval_id, user, created_at)
        else:
            roles.pop(role, None)
    result = []
    for version_id, roles in standing.items():
        seen: set[str] = set()
        for role, (approval_id, user, created_at) in sorted(roles.items(), key=lambda i: i[1][0]):
            if user in seen:  # a double sign-off from before this constraint: keep the first
                continue
            seen.add(user)
            result.append(
                {
                    "version_id": version_id,
                    "role": role,
                    "user": user,
                    "approval_id": approval_id,
                    "created_at": created_at,
                }
            )
    return result


def downgrade() -> None:
    op.drop_table("policy_change_sign_offs")
    with op.batch_alter_table("policy_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_changes_model_id"))
    op.drop_table("policy_changes")
    op.drop_table("sign_offs")
