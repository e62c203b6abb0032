"""A demo registry (a small LightGBM model, signed off, champion) and the files generated from it.

Built once per test session: training 20 trees on 2,000 rows and registering
takes about a second; generating every target another.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MODEL = "credit-risk"
USERS = {
    "alice": ["admin", "developer"],
    "vera": ["validator"],
    "aaron": ["approver"],
    "serving": ["viewer"],
}


@dataclass(frozen=True)
class DemoRegistry:
    root: Path
    store_url: str
    artifact_root: str
    tokens: dict[str, str] = field(default_factory=dict)  # each user's, issued at set-up

    def env(self, user: str = "alice", home: Path | None = None) -> dict[str, str]:
        return {
            "MODELYARD_STORE_URL": self.store_url,
            "MODELYARD_ARTIFACT_ROOT": self.artifact_root,
            "MODELYARD_TOKEN": self.tokens[user],
            "MODELYARD_HOME": str(home or self.root / "home"),
        }

    def connect(self, user: str = "alice"):  # type: ignore[no-untyped-def]
        import modelyard

        return modelyard.connect(
            self.store_url,
            artifact_root=self.artifact_root,
            token=self.tokens[user],
            home=str(self.root / "home"),
        )


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRegistry:
    """A SQLite registry with credit-risk/1 signed off by a validator and an approver: champion."""
    from modelyard.data import synthetic
    from modelyard.demo.credit_models import lightgbm_pipeline, split_xy
    from modelyard.testing.identity import govern

    root = tmp_path_factory.mktemp("demo-registry")
    store_url, artifact_root = f"sqlite:///{root / 'yard.db'}", str(root / "artifacts")
    tokens = govern(store_url, USERS, artifact_root=artifact_root, home=str(root / "home"))
    registry = DemoRegistry(root, store_url, artifact_root, tokens)
    yard = registry.connect()
    try:
        X, y = split_xy(synthetic.generate(2_000, seed=7))
        model = lightgbm_pipeline(n_estimators=20).fit(X, y)
        version = yard.models.register(MODEL, model, example=X)
        for user, role in (("vera", "validator"), ("aaron", "approver")):
            other = registry.connect(user)
            try:
                other.models.approve(version.ref, role=role, comment="smoke-test fixture")
            finally:
                other.close()
        yard.models.set_alias(MODEL, "champion", version.version)
    finally:
        yard.close()
    return registry


@pytest.fixture(scope="session")
def generated(demo: DemoRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every target generated for credit-risk@champion."""
    from modelyard.deploy.generate import generate

    out = tmp_path_factory.mktemp("generated")
    yard = demo.connect()
    try:
        generate(f"{MODEL}@champion", ["all"], out, yard=yard)
    finally:
        yard.close()
    yield out
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="session")
def platform_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The platform server's files, generated into a scratch repository root."""
    from modelyard.deploy.generate import generate_platform

    root = tmp_path_factory.mktemp("platform")
    generate_platform(root)
    return root / "deploy" / "server"
