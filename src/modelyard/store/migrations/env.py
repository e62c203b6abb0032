"""Alembic environment: always driven programmatically by modelyard.store.migrate.

The caller passes an open connection in ``config.attributes["connection"]``
(already holding the migration lock), so this file never builds an engine.
"""

from alembic import context

from modelyard.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
