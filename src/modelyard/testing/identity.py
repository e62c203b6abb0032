"""Tokens for tests and fixtures: people who prove who they are, as everyone must.

A store with users refuses claimed names (``MODELYARD_USER``), so a test that
plays several people gives each a token. These helpers mint tokens straight
in the metadata store — the trusted set-up a test owns, like creating its
database — and record the creation in the audit trail as any token is::

    from modelyard.testing.identity import issue_token, open_as

    token = issue_token(store_url, "vera")            # vera must be a user already
    with open_as(store_url, "vera", artifact_root=...) as vera:
        vera.models.approve("credit-risk/1", role="validator")

On a store with no users ``open_as`` returns a Yard claiming the name (open
mode), so the same fixture serves both kinds of store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelyard.registry.tokens import issue_token as mint
from modelyard.registry.users import UserService
from modelyard.store import MetadataStore

__all__ = ["govern", "has_users", "issue_token", "open_as"]


def _store(store: MetadataStore | str | Any) -> tuple[MetadataStore, bool]:
    if isinstance(store, MetadataStore):
        return store, False
    if isinstance(store, str):
        return MetadataStore(store), True
    return store.store, False  # a Yard


def issue_token(
    store: MetadataStore | str | Any, user: str, *, expires_in: str = "1d", name: str = "test"
) -> str:
    """A new token of the registered ``user`` (store URL, ``MetadataStore`` or Yard).

    ``NotFound`` when ``user`` is not a user of the store, ``PermissionDenied``
    when they are disabled; the creation is audited as made by ``user``.
    """
    metadata, owned = _store(store)
    try:
        with metadata.write() as session:
            return mint(session, user, by=user, name=name, expires_in=expires_in).secret
    finally:
        if owned:
            metadata.dispose()


def has_users(store: MetadataStore | str | Any) -> bool:
    metadata, owned = _store(store)
    try:
        return not UserService(metadata, user="").is_open()
    finally:
        if owned:
            metadata.dispose()


def open_as(store_url: str, user: str, **connect_kwargs: Any) -> Any:
    """A Yard acting as ``user``: proven by a fresh token once the store has users.

    On a store with no users the Yard claims the name (open mode). A name
    that is not a user of a store with users gets a Yard that claims it,
    which every call refuses: what an impostor would get.
    """
    import modelyard
    from modelyard.errors import NotFound

    if not has_users(store_url):
        return modelyard.connect(store_url, user=user, **connect_kwargs)
    try:
        token = issue_token(store_url, user)
    except NotFound:
        return _claimed(store_url, user, **connect_kwargs)
    return modelyard.connect(store_url, token=token, **connect_kwargs)


def _claimed(store_url: str, user: str, **connect_kwargs: Any) -> Any:
    from modelyard.config import load_settings
    from modelyard.yard import Yard

    return Yard(load_settings(store_url=store_url, user=user, **connect_kwargs))


def govern(
    store_url: str, people: Mapping[str, Sequence[str]], **connect_kwargs: Any
) -> dict[str, str]:
    """Make the first person of ``people`` the admin (bootstrap), add the rest; their tokens.

    ``people`` maps names to roles; the first must include ``admin``.
    """
    import modelyard

    names = list(people)
    first = names[0]
    with modelyard.connect(store_url, user=first, **connect_kwargs) as claimed:
        tokens = {first: claimed.users.bootstrap(first, list(people[first])).secret}
        with claimed.with_token(tokens[first]) as admin:
            for name in names[1:]:
                admin.users.add(name, list(people[name]))
                tokens[name] = admin.tokens.create(name, name="test", expires_in="1d").secret
    return tokens
