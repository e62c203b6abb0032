"""A governed store for the security tests: users with roles, and versions that cost no training.

One small scikit-learn model is saved once per store; further versions reuse
its stored directory through ``register_artifact`` (the metadata-only path),
so a test can register dozens of versions and spend its time on the race or
the rule it is about, not on packaging models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import modelyard

USERS = {
    "root": ["admin"],
    "dev": ["developer"],
    "val": ["validator"],
    "appr": ["approver"],
    "both": ["validator", "approver"],
    "val2": ["validator"],
    "appr2": ["approver"],
    "viewer": ["viewer"],
}


def tiny_model() -> tuple[object, pd.DataFrame]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    x = pd.DataFrame({"income": rng.normal(size=200), "debt": rng.normal(size=200)})
    y = (x["income"] - x["debt"] > 0).astype(int)
    return LogisticRegression().fit(x, y), x


def open_store(store_url: str, tmp_path: Path, user: str = "root") -> modelyard.Yard:
    """The store acting as ``user``: claimed while it has no users, with a token after."""
    from modelyard.testing.identity import open_as

    return open_as(
        store_url,
        user,
        artifact_root=str(tmp_path / "artifacts"),
        home=str(tmp_path / "home"),
    )


def add_users(yard: modelyard.Yard, users: dict[str, list[str]] = USERS) -> modelyard.Yard:
    """Add ``users``; returns the first (an admin) acting with their new token.

    ``yard`` claimed the first name while the store was open; bootstrapping
    ends open mode, so it is refused from then on. The returned Yard shares
    its store (``with_token``) and leaves closing it to ``yard``: keep
    ``yard`` to close. Tests act as the others through ``view_as(name)``,
    the hook a process that has proven the name itself uses (as the platform
    server does).
    """
    first, *others = users
    token = yard.users.bootstrap(first, users[first]).secret
    admin = yard.with_token(token)
    for name in others:
        admin.users.add(name, users[name])
    return admin


def seed_digest(yard: modelyard.Yard) -> str:
    """The artifact digest of one saved model, registered once under the model ``seed``."""
    model, example = tiny_model()
    return yard.models.register("seed", model, example=example.head(20)).artifact_digest


def signed_off_champion(store_url: str, tmp_path: Path) -> tuple[modelyard.Yard, modelyard.Yard]:
    """``(owner, admin)``: the users, and a tier-1 ``credit-risk`` whose v1 (registered by
    dev) has both sign-offs and is champion. ``admin`` (root, with a token) shares the
    store that ``owner`` opened; close ``owner``."""
    owner = open_store(store_url, tmp_path)
    yard = add_users(owner)
    digest = seed_digest(yard)
    dev = yard.view_as("dev")
    dev.models.create("credit-risk", risk_tier=1)
    dev.models.register_artifact("credit-risk", digest)
    yard.view_as("val").models.approve("credit-risk/1", role="validator")
    yard.view_as("appr").models.approve("credit-risk/1", role="approver")
    yard.view_as("appr").models.set_alias("credit-risk", "champion", 1)
    return owner, yard
