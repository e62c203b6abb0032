"""alerts listed newest first read an index, not the whole table

``GET /monitors/alerts`` (and ``modelyard monitor alerts``) ask for the
newest alerts, optionally of one model: ``ORDER BY last_seen DESC, id DESC
LIMIT n``. Without an index on the order, SQLite and PostgreSQL read and sort
every alert for each page. ``ix_alerts_last_seen_id`` serves the unfiltered
listing (and the status filter) by reading the index backwards and stopping
after a page; ``ix_alerts_model_name_last_seen_id`` does the same for one
model. Self-contained: it only adds two indexes.

Revision ID: cleanup_alert_listing_index
Revises: i13_governance_signoffs
Create Date: 2026-12-07 06:00:00
"""

from alembic import op

revision = "cleanup_alert_listing_index"
down_revision = "i13_governance_signoffs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_last_seen_id", ["last_seen", "id"], unique=False)
        batch_op.create_index(
            "ix_alerts_model_name_last_seen_id", ["model_name", "last_seen", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_model_name_last_seen_id")
        batch_op.drop_index("ix_alerts_last_seen_id")
