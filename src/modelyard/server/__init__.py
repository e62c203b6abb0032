"""The platform server: REST API and web UI (``modelyard server``)."""

from modelyard.server.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
