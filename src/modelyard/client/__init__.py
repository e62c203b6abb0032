"""The remote client: the same services as a local Yard, over the platform server's REST API."""

from modelyard.client.yard import RemoteYard

__all__ = ["RemoteYard"]
