"""Batched model and version pages return exactly what the registry's own reads return."""

from __future__ import annotations

from modelyard.demo.credit_models import split_xy
from modelyard.registry import listing


def test_pages_equal_the_registrys_records(as_user, small_model, credit_frame):
    dev = as_user("dev")
    x, _ = split_xy(credit_frame)
    data = dev.datasets.register("train", credit_frame.head(300))
    with dev.start_run(experiment="e", inputs=[data]) as run:
        run.log_metrics({"auc": 0.8, "ks": 0.4})
    first = dev.models.register("m", small_model, run=run, example=x.head(5), target="default")
    for _ in range(3):
        dev.models.register_artifact("m", first.artifact_digest, tags={"k": "v"}, metrics={"a": 1})
    dev.models.register_artifact("other", first.artifact_digest)
    dev.models.set_alias("m", "staging", 2)
    dev.models.set_alias("m", "shadow", 2)
    as_user("val").models.approve("m/1", role="validator", comment="ok")
    as_user("val").models.reject("m/3", role="validator", comment="no")
    dev.models.attach("m/1", "notes.txt", dev.artifacts.put_bytes(b"x"), kind="report")
    for limit, offset in ((10, 0), (2, 1), (1, 3), (5, 9)):
        assert listing.versions_page(dev.store, "dev", "m", limit=limit, offset=offset) == (
            dev.models.versions("m", limit=limit, offset=offset)
        )
    assert listing.models_page(dev.store, "dev") == dev.models.list()
    assert listing.models_page(dev.store, "dev", name_like="m*", limit=1) == dev.models.list(
        name_like="m*", limit=1
    )
