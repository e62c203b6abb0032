"""Metadata store: SQLAlchemy models, sessions and Alembic migrations."""

from modelyard.store.engine import MetadataStore

__all__ = ["MetadataStore"]
