"""Four-eyes against races: one person holding validator and approver signs off twice at once.

Issue 13 found 10 of 10 versions on PostgreSQL ending with both sign-offs by
the same person. Here 20 versions each get two concurrent sign-off requests
by ``both`` (validator + approver) -- through the registry service on SQLite
and PostgreSQL, and through the platform server's REST API -- and every
version must end with exactly one of them standing.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from governed import add_users, open_store, seed_digest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from modelyard.errors import PermissionDenied
from modelyard.store.models import Approval, SignOff
from modelyard.testing.platform import PlatformServer

PAIRS = 20


def _versions(yard, digest: str, count: int) -> list[int]:
    dev = yard.view_as("dev")
    dev.models.create("credit-risk", risk_tier=1)
    return [dev.models.register_artifact("credit-risk", digest).version for _ in range(count)]


def _check_no_double_sign_off(yard, versions: list[int]) -> None:
    with yard.store.read() as session:
        for number in versions:
            version_id = yard.models.get(f"credit-risk/{number}").id
            standing = session.execute(
                select(SignOff.role, SignOff.user).where(SignOff.version_id == version_id)
            ).all()
            assert len(standing) == 1, (number, standing)
            approved = session.scalars(
                select(Approval.role).where(
                    Approval.version_id == version_id, Approval.decision == "approved"
                )
            ).all()
            assert len(approved) == 1, (number, approved)
            assert yard.models.missing_sign_offs(f"credit-risk/{number}") != []


def test_twenty_concurrent_sign_off_pairs_through_the_registry(
    store_url: str, tmp_path: Path
) -> None:
    owner = open_store(store_url, tmp_path)
    try:
        yard = add_users(owner)
        versions = _versions(yard, seed_digest(yard), PAIRS)
        both = yard.view_as("both")
        start = threading.Barrier(2 * PAIRS)

        def sign(number: int, role: str) -> str:
            start.wait()
            try:
                both.models.approve(f"credit-risk/{number}", role=role, comment="race")
            except PermissionDenied as exc:
                assert "four-eyes" in str(exc)
                return "refused"
            return "signed"

        jobs = [(n, role) for n in versions for role in ("validator", "approver")]
        with ThreadPoolExecutor(len(jobs)) as pool:
            outcomes = list(pool.map(lambda job: sign(*job), jobs))
        per_version = [sorted(outcomes[i : i + 2]) for i in range(0, len(outcomes), 2)]
        assert per_version == [["refused", "signed"]] * PAIRS
        _check_no_double_sign_off(yard, versions)
        with pytest.raises(PermissionDenied, match="needs sign-off"):
            yard.models.set_alias("credit-risk", "champion", versions[0])
    finally:
        owner.close()


def test_the_database_refuses_a_second_sign_off_by_one_person(
    store_url: str, tmp_path: Path
) -> None:
    """The backstop: a code path that forgot the lock still cannot store a double sign-off."""
    owner = open_store(store_url, tmp_path)
    try:
        yard = add_users(owner)
        (number,) = _versions(yard, seed_digest(yard), 1)
        version_id = yard.models.get(f"credit-risk/{number}").id
        with pytest.raises(sa_exc.IntegrityError), yard.store.engine.begin() as conn:
            for role in ("validator", "approver"):
                conn.execute(
                    SignOff.__table__.insert().values(
                        version_id=version_id, role=role, user="both", created_at=0
                    )
                )
        with yard.store.read() as session:
            assert session.scalars(select(SignOff)).all() == []
    finally:
        owner.close()


def test_a_rejection_withdraws_the_standing_sign_off(store_url: str, tmp_path: Path) -> None:
    owner = open_store(store_url, tmp_path)
    try:
        yard = add_users(owner)
        (number,) = _versions(yard, seed_digest(yard), 1)
        ref = f"credit-risk/{number}"
        both = yard.view_as("both")
        both.models.approve(ref, role="validator")
        both.models.reject(ref, role="validator", comment="found a leak in the features")
        # The validator sign-off no longer stands, so "both" may now sign as approver...
        both.models.approve(ref, role="approver")
        # ...and a second person is needed as validator.
        with pytest.raises(PermissionDenied, match="already signed off credit-risk/1 as approver"):
            both.models.approve(ref, role="validator")
        yard.view_as("val").models.approve(ref, role="validator")
        assert yard.models.missing_sign_offs(ref) == []
    finally:
        owner.close()


def test_twenty_concurrent_sign_off_pairs_through_the_server(
    store_url: str, tmp_path: Path
) -> None:
    owner = open_store(store_url, tmp_path)
    try:
        yard = add_users(owner)
        versions = _versions(yard, seed_digest(yard), PAIRS)
        token = yard.tokens.create("both", name="race", expires_in="1d").secret
    finally:
        owner.close()
    with PlatformServer(store_url, str(tmp_path / "artifacts"), home=tmp_path / "server") as server:
        start = threading.Barrier(2 * PAIRS)

        def sign(number: int, role: str) -> int:
            with httpx.Client(
                base_url=f"{server.url}/api/v1",
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            ) as client:
                start.wait()
                response = client.post(
                    f"/models/credit-risk/versions/{number}/approve",
                    json={"role": role, "comment": "race"},
                )
            if response.status_code == 403:
                assert "four-eyes" in response.text
            return response.status_code

        jobs = [(n, role) for n in versions for role in ("validator", "approver")]
        with ThreadPoolExecutor(len(jobs)) as pool:
            codes = list(pool.map(lambda job: sign(*job), jobs))
    per_version = [sorted(codes[i : i + 2]) for i in range(0, len(codes), 2)]
    assert per_version == [[200, 403]] * PAIRS
    yard = open_store(store_url, tmp_path)
    try:
        _check_no_double_sign_off(yard, versions)
    finally:
        yard.close()


def test_the_migration_keeps_one_sign_off_per_person_from_older_data(store_url: str) -> None:
    """A store that suffered the race before the constraint: the upgrade keeps the first."""
    import sqlalchemy as sa
    from alembic import command

    from modelyard.store import MetadataStore
    from modelyard.store.migrate import alembic_config

    engine = sa.create_engine(store_url)
    config = alembic_config()
    models = sa.table(
        "models",
        *(sa.column(c) for c in ("id", "name", "description", "owner", "risk_tier")),
        *(sa.column(c) for c in ("policy", "created_by", "created_at", "updated_at")),
    )
    versions = sa.table(
        "model_versions",
        *(sa.column(c) for c in ("id", "model_id", "version", "artifact_digest", "flavor")),
        *(sa.column(c) for c in ("task", "manifest", "state", "description", "created_by")),
        *(sa.column(c) for c in ("created_at", "updated_at")),
    )
    approvals = sa.table(
        "approvals",
        *(sa.column(c) for c in ("id", "version_id", "role", "user", "decision", "comment")),
        sa.column("created_at"),
    )
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
        conn.execute(
            models.insert().values(
                id=1,
                name="m",
                description="",
                owner="dev",
                risk_tier=1,
                policy="{}",
                created_by="dev",
                created_at=1,
                updated_at=1,
            )
        )
        for number in (1, 2):
            conn.execute(
                versions.insert().values(
                    id=number,
                    model_id=1,
                    version=number,
                    artifact_digest="sha256:x",
                    flavor="sklearn",
                    task="classification",
                    manifest="{}",
                    state="approved",
                    description="",
                    created_by="dev",
                    created_at=1,
                    updated_at=1,
                )
            )
        history = [
            (1, "validator", "both", "approved"),  # the race: both roles by one person
            (1, "approver", "both", "approved"),
            (2, "validator", "val", "approved"),
            (2, "approver", "appr", "approved"),
            (2, "approver", "appr2", "rejected"),  # withdraws appr's sign-off
        ]
        for i, (version_id, role, user, decision) in enumerate(history, start=1):
            conn.execute(
                approvals.insert().values(
                    id=i,
                    version_id=version_id,
                    role=role,
                    user=user,
                    decision=decision,
                    comment="",
                    created_at=i,
                )
            )
    engine.dispose()
    store = MetadataStore(store_url)
    try:
        with store.read() as session:
            rows = session.execute(
                select(
                    SignOff.version_id, SignOff.role, SignOff.user, SignOff.approval_id
                ).order_by(SignOff.version_id, SignOff.role)
            ).all()
        assert [tuple(r) for r in rows] == [(1, "validator", "both", 1), (2, "validator", "val", 3)]
    finally:
        store.dispose()
