"""Attack through the platform API: a validator writes the reason texts, then signs them off.

``version.update`` lets every validator set a version's reason table, the text
applicants read. Four-eyes must hold for those texts as for the model: whoever
last set the table cannot be the one who signs the version off.
"""

from __future__ import annotations

from typing import Any

from modelyard.data import synthetic

API = "/api/v1"
FEATURES = list(synthetic.FEATURES)
TABLE = {
    "reasons": {c: {"code": c[:3].upper(), "text": f"{c} was adverse"} for c in FEATURES},
    "excluded": {},
}


def test_the_validator_who_set_the_reasons_cannot_approve_them(site: Any) -> None:
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    x, y = split_xy(synthetic.generate(800, seed=8))
    with site.local("dev") as dev:
        ref = dev.models.register("reasoned", logistic_pipeline().fit(x, y), example=x.head(30)).ref
    path = f"{API}/models/reasoned/versions/1"
    with site.client("val") as val:
        written = val.put(f"{path}/reasons", json={"reasons": TABLE})
        assert written.status_code == 200, written.text
        approved = val.post(f"{path}/approve", json={"role": "validator", "comment": "fine"})
        assert approved.status_code == 403, approved.text
        body = approved.json()
        assert f"four-eyes: val last set the reason table of {ref}" in body["message"]
        assert body["details"] == {"rule": "four-eyes", "reason_table_by": "val"}
        assert val.get(path).json()["state"] == "registered"
