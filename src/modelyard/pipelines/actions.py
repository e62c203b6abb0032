"""Lifecycle actions as pipeline steps: register, validate, gate, request sign-off, alias,
route, promote.

Each is a ``@step`` using the Yard of the running pipeline, so a pipeline
composes them like its own steps::

    version = register_version(fitted["model"], name="credit-risk", run=fitted["run"], ...)
    checked = validate_version(version, holdout, fairness_attribute="home_ownership")
    passed = check_gates(checked["version"], holdout, gates=[threshold("auc", ">=", 0.7)])
    request_approval(passed)                        # records that people must sign
    promoted = promote(passed)                      # champion, or challenger if one exists
    route_traffic(promoted["version"], promoted["alias"], mode="canary", weight=10)

A pipeline never signs off: sign-offs are made by people, each with their
own token (``modelyard models approve``, the web UI), and a version awaiting
them is promoted by the next run after they have signed (that outcome is
never cached).

``decide_promotion`` (a function) and ``promotion_decision`` (its step)
compare champion and challenger on labelled online traffic and move the
champion alias only when the challenger is not worse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelyard.errors import BackendUnavailable, InvalidInput, NotFound, PermissionDenied
from modelyard.pipelines.context import current_or_none, step_context
from modelyard.pipelines.dsl import step
from modelyard.pipelines.gates import Gate, enforce_gates, gather_evidence

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.registry.entities import ModelVersionInfo
    from modelyard.yard import Yard

__all__ = [
    "check_gates",
    "decide_promotion",
    "labelled_window",
    "promote",
    "promotion_decision",
    "register_version",
    "request_approval",
    "route_traffic",
    "set_alias",
    "set_routes",
    "validate_version",
]


def _yard() -> Yard:
    return step_context().yard


def _in_ci() -> bool:
    return step_context().ci


def _frame(yard: Yard, data: Any) -> pd.DataFrame:
    import pandas as pd

    return data if isinstance(data, pd.DataFrame) else yard.datasets.load(data)


@step
def register_version(
    model: Any,
    name: str,
    run: Any = None,
    example: Any = None,
    features: Sequence[str] | None = None,
    target: str | None = None,
    metrics: Mapping[str, float] | None = None,
    description: str = "",
) -> ModelVersionInfo:
    """Register ``model`` as the next version of ``name``, linked to its training run.

    ``example`` (a dataset version or a frame, cut to ``features``) gives the
    signature; the version is tagged with the pipeline run that made it.
    """
    ctx = step_context()
    frame = None
    if example is not None:
        frame = _frame(ctx.yard, example)
        if features:
            frame = frame[list(features)]
        elif target and target in frame.columns:
            frame = frame.drop(columns=[target])
    version = ctx.yard.models.register(
        name,
        model,
        run=run,
        example=frame,
        target=target,
        metrics=metrics,
        description=description or f"trained by pipeline {ctx.pipeline}",
    )
    return ctx.yard.models.set_tags(version.ref, pipeline_tags())


@step(outputs=("version", "metrics", "report", "card"))
def validate_version(
    version: ModelVersionInfo,
    data: Any,
    target: str | None = None,
    fairness_attribute: str | None = None,
    segment_by: Sequence[str] = (),
    card: bool = True,
) -> tuple[Any, dict[str, float], str, str | None]:
    """Write the validation report (and the model card) for ``version`` on labelled ``data``."""
    ctx = step_context()
    outcome = ctx.yard.models.validate(
        version.ref,
        data if not hasattr(data, "ref") else data.ref,
        target=target,
        fairness_attribute=fairness_attribute,
        segment_by=list(segment_by),
    )
    ctx.run.log_metrics(outcome.metrics)
    ctx.run.log_artifact(outcome.report_path)
    card_path = None
    if card:
        rendered = ctx.yard.models.card(version.ref)
        card_path = str(rendered.html_path)
        ctx.run.log_artifact(rendered.markdown_path)
    return (
        ctx.yard.models.get(version.ref),
        dict(outcome.metrics),
        str(outcome.report_path),
        card_path,
    )


@step
def check_gates(
    version: ModelVersionInfo,
    holdout: Any,
    gates: Sequence[Gate | str],
    target: str | None = None,
    reference: Any = None,
    metrics: Mapping[str, float] | None = None,
) -> ModelVersionInfo:
    """Evaluate ``gates`` for ``version`` on ``holdout``; raise ``GateFailed`` if one fails.

    The results go to this step's run, the version's tags and the audit trail.
    """
    ctx = step_context()
    evidence = gather_evidence(
        ctx.yard, version, holdout, gates=gates, target=target, reference=reference, metrics=metrics
    )
    enforce_gates(ctx.yard, gates, evidence, run=ctx.run)
    return ctx.yard.models.get(version.ref)


@step
def request_approval(version: ModelVersionInfo, alias: str = "champion") -> dict[str, Any]:
    """Record that ``version`` awaits sign-off for ``alias``; returns the roles still needed.

    Only a request: a tag on the version and an ``approval.request`` audit
    event. The sign-offs themselves are made by people with their own tokens.
    """
    yard = _yard()
    missing = yard.models.missing_sign_offs(version.ref, alias)
    if missing:
        # The next run must look again: people may have signed by then.
        step_context().dont_cache("sign-offs requested, not made")
    yard.models.set_tags(version.ref, {"approval": "requested: " + (", ".join(missing) or "none")})
    yard.audit.record(
        "approval.request",
        f"model/{version.ref}",
        {"alias": alias, "missing": missing},
    )
    return {"version": version.ref, "alias": alias, "missing": missing}


@step
def set_alias(version: ModelVersionInfo, alias: str) -> ModelVersionInfo:
    """Point ``name@alias`` at ``version`` (protected aliases need the policy's sign-offs)."""
    return _yard().models.set_alias(version.name, alias, version.version)


@step(outputs=("version", "alias"))
def promote(version: ModelVersionInfo) -> tuple[ModelVersionInfo, str]:
    """Make ``version`` the champion when the model has none, else its challenger.

    Returns alias ``""`` (not promoted) in CI mode, where the release process
    moves aliases after people sign, and for a version still awaiting the
    sign-offs its policy requires — that outcome is not cached, so the next
    run tries again once they are in.
    """
    yard = _yard()
    if _in_ci():
        step_context().dont_cache("CI mode: the release moves aliases")
        return version, ""
    try:
        champion = yard.models.get(f"{version.name}@champion")
    except NotFound:
        champion = None
    alias = "champion" if champion is None or champion.version == version.version else "challenger"
    try:
        return yard.models.set_alias(version.name, alias, version.version), alias
    except PermissionDenied as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        if not details.get("missing_sign_offs"):
            raise
        step_context().dont_cache(exc.message)
        return version, ""


def set_routes(
    yard: Yard,
    model: str,
    *,
    endpoint: str | None = None,
    challenger: str | None = None,
    mode: str = "canary",
    weight: float = 10.0,
) -> dict[str, Any]:
    """Route ``endpoint`` to ``model@champion``, with ``challenger`` on canary or in shadow.

    Without a challenger the champion takes all the traffic. Returns what was
    applied, or ``{"skipped": reason}`` when this Yard has no deployments.
    """
    if mode not in ("canary", "shadow"):
        raise InvalidInput(f"The 'mode' parameter must be 'canary' or 'shadow'. Got {mode!r}.")
    if not 0 < weight < 100:
        raise InvalidInput(f"The 'weight' parameter must be between 0 and 100. Got {weight!r}.")
    deployments = getattr(yard, "deployments", None)
    if deployments is None:
        return {"skipped": "this Yard has no deployments service (serving is not installed)"}
    endpoint = endpoint or model
    routes: list[dict[str, Any]] = [{"name": "champion", "model": f"{model}@champion"}]
    shadows: list[dict[str, Any]] = []
    if challenger and mode == "canary":
        routes[0]["weight"] = 100.0 - weight
        routes.append({"name": "challenger", "model": challenger, "weight": float(weight)})
    elif challenger:
        shadows.append({"name": "challenger", "model": challenger, "sample": 1.0})
    spec: dict[str, Any] = {"name": endpoint, "routes": routes}
    if shadows:
        spec["shadows"] = shadows
    record, outcome = deployments.apply(spec)
    return {"endpoint": endpoint, "outcome": outcome, "spec": record.spec.to_dict()}


@step
def route_traffic(
    version: ModelVersionInfo,
    alias: str,
    endpoint: str | None = None,
    mode: str = "canary",
    weight: float = 10.0,
) -> dict[str, Any]:
    """Update the model's endpoint: a champion takes all traffic; a challenger gets
    ``weight`` percent (canary) or a copy of every request (shadow). A version
    that was not promoted (``alias == ""``: CI mode, or awaiting sign-off) changes no route."""
    if not alias:
        return {"skipped": f"{version.ref} was not promoted (CI mode or awaiting sign-off)"}
    challenger = f"{version.name}@challenger" if alias == "challenger" else None
    return set_routes(
        _yard(), version.name, endpoint=endpoint, challenger=challenger, mode=mode, weight=weight
    )


# -- the promotion decision -----------------------------------------------------


def labelled_window(
    yard: Yard, endpoint: str, since: Any = None, until: Any = None
) -> pd.DataFrame:
    """Logged predictions of ``endpoint`` joined to their feedback labels.

    Columns ``arm`` (the route or shadow name), ``request_id``, ``row``,
    ``score``, ``label`` (0/1). Needs the serving package's prediction log.
    """
    import pandas as pd

    try:
        from modelyard.serving.predlog import read_feedback, read_predictions
    except ImportError as exc:  # serving is built alongside; fail clearly until it is there
        raise BackendUnavailable(
            "reading labelled traffic needs modelyard.serving's prediction log; "
            "pass a labelled frame (arm, score, label) instead"
        ) from exc
    from modelyard.monitoring.performance import to_binary

    root = yard.settings.resolved_artifact_root
    # The log in an object store is reached as the artifacts are: the same settings.
    options = yard.settings.storage_options(root)
    predictions = read_predictions(root, endpoint, since, until, storage_options=options)
    feedback = read_feedback(root, endpoint, since, until, storage_options=options)
    predictions, feedback = predictions.to_pandas(), feedback.to_pandas()
    columns = ["arm", "request_id", "row", "score", "label"]
    if predictions.empty or feedback.empty:
        return pd.DataFrame(columns=columns)
    # Feedback names a row by request id and row, a whole request, or an entity key.
    feedback = feedback.drop_duplicates(["_request_id", "_row", "_entity"], keep="last")
    by_request = feedback[feedback["_request_id"].notna()]
    parts = [
        predictions.merge(
            by_request[by_request["_row"].notna()][["_request_id", "_row", "label"]],
            on=["_request_id", "_row"],
        ),
        predictions.merge(
            by_request[by_request["_row"].isna()][["_request_id", "label"]], on="_request_id"
        ),
        predictions[predictions["_entity"].notna()].merge(
            feedback[feedback["_request_id"].isna() & feedback["_entity"].notna()][
                ["_entity", "label"]
            ],
            on="_entity",
        ),
    ]
    joined = pd.concat([p for p in parts if not p.empty] or [parts[0]], ignore_index=True)
    joined = joined.drop_duplicates(["_request_id", "_row", "_route"], keep="first")
    # The same reading of labels as monitoring's performance checks; unreadable ones are
    # dropped, never counted as negatives.
    labels = to_binary(joined["label"])
    joined = joined[labels >= 0]
    return pd.DataFrame(
        {
            "arm": joined["_route"].astype(str),
            "request_id": joined["_request_id"].astype(str),
            "row": joined["_row"],
            "score": joined["_score"].astype(float),
            "label": labels[labels >= 0].astype(int),
        },
        columns=columns,
    )


def _arms(labelled: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    missing = [c for c in ("arm", "score", "label") if c not in labelled.columns]
    if missing:
        raise InvalidInput(
            f"the labelled traffic needs columns arm, score, label; missing {missing}"
        )
    champion = labelled[labelled["arm"] == "champion"]
    challenger = labelled[labelled["arm"] == "challenger"]
    paired = False
    if {"request_id", "row"} <= set(labelled.columns) and len(champion) == len(challenger) > 0:
        keys = ["request_id", "row"]
        a = champion.sort_values(keys).reset_index(drop=True)
        b = challenger.sort_values(keys).reset_index(drop=True)
        if a[keys].equals(b[keys]):  # a shadow: both models scored the same requests
            return a, b, True
    return champion, challenger, paired


def decide_promotion(
    yard: Yard,
    model: str,
    labelled: pd.DataFrame | None = None,
    *,
    endpoint: str | None = None,
    since: Any = None,
    until: Any = None,
    margin: float = 0.01,
    alpha: float = 0.05,
    min_labels: int = 200,
    apply: bool = True,
    run: Any = None,
) -> dict[str, Any]:
    """Promote ``model@challenger`` to champion if its online AUC is not worse.

    ``labelled`` holds ``arm`` (champion / challenger), ``score`` and ``label``
    (plus ``request_id`` and ``row`` for a shadow, which makes the test
    paired); without it the window ``[since, until)`` of ``endpoint``'s
    prediction log and feedback is read. The test is DeLong's, one-sided, at
    level ``alpha`` with non-inferiority ``margin`` (``stats.py``). The
    decision and its figures go to ``run`` (if given) and the audit trail;
    with ``apply`` a "promote" moves the champion alias (the policy's
    sign-offs still apply), removes the challenger alias and routes all
    traffic to the new champion.
    """
    from modelyard.pipelines.stats import compare_aucs

    challenger = yard.models.get(f"{model}@challenger")
    champion = yard.models.get(f"{model}@champion")
    if labelled is None:
        labelled = labelled_window(yard, endpoint or model, since, until)
    a, b, paired = _arms(labelled)
    figures: dict[str, Any] = {
        "champion": champion.ref,
        "challenger": challenger.ref,
        "n_champion": len(a),
        "n_challenger": len(b),
        "margin": margin,
        "alpha": alpha,
    }
    enough = all(
        len(arm) >= min_labels and 2 <= int(arm["label"].sum()) <= len(arm) - 2 for arm in (a, b)
    )
    if not enough:
        decision = "keep"
        reason = (
            f"not enough labelled traffic: {len(a)} champion and {len(b)} challenger rows "
            f"(at least {min_labels} each, with both outcomes, are needed)"
        )
    else:
        test = compare_aucs(
            a["label"],
            a["score"],
            b["label"],
            b["score"],
            paired=paired,
            margin=margin,
            alpha=alpha,
        )
        figures.update(test.to_dict())
        decision = "promote" if test.not_worse else "keep"
        verdict = "not worse" if test.not_worse else "not shown to be not worse"
        reason = (
            f"challenger AUC {test.auc_challenger:.4f} vs champion {test.auc_champion:.4f} "
            f"(difference {test.difference:+.4f}, {100 * (1 - alpha):.0f}% lower bound "
            f"{test.lower_bound:+.4f}, margin -{margin:g}, p = {test.p_value:.4g}, "
            f"{test.method}): {verdict}"
        )
    figures["decision"], figures["reason"] = decision, reason
    if decision == "promote":
        missing = yard.models.missing_sign_offs(challenger.ref, "champion")
        if missing:
            figures["decision"] = decision = "awaiting sign-off"
            figures["reason"] = reason = (
                f"{reason}; {challenger.ref} still needs sign-off by {' and '.join(missing)}"
            )
    run_id = getattr(run, "id", run)
    if run_id is not None:
        numbers = {
            f"promotion.{k}": float(v)
            for k, v in figures.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        numbers["promotion.promote"] = 1.0 if decision == "promote" else 0.0
        yard.runs.log_metrics(run_id, [(k, v, None, None) for k, v in numbers.items()])
        yard.runs.set_tags(run_id, {"promotion.decision": decision, "promotion.reason": reason})
    yard.audit.record("promotion.decide", f"model/{model}", figures)
    if decision == "promote" and apply:
        yard.models.set_alias(model, "champion", challenger.version)
        yard.models.delete_alias(model, "challenger")
        figures["routes"] = set_routes(yard, model, endpoint=endpoint)
        figures["new_champion"] = challenger.ref
    return figures


@step
def promotion_decision(
    model: str,
    labelled: Any = None,
    endpoint: str | None = None,
    margin: float = 0.01,
    alpha: float = 0.05,
    min_labels: int = 200,
) -> dict[str, Any]:
    """``decide_promotion`` as a step: figures on this step's run, decision in the audit trail."""
    ctx = step_context()
    return decide_promotion(
        ctx.yard,
        model,
        labelled,
        endpoint=endpoint,
        margin=margin,
        alpha=alpha,
        min_labels=min_labels,
        run=ctx.run,
    )


def pipeline_tags() -> dict[str, str]:
    """Tags naming the running pipeline step, for objects a step creates (empty outside one)."""
    ctx = current_or_none()
    if ctx is None:
        return {}
    return {
        "pipeline": ctx.pipeline,
        "pipeline_run": ctx.pipeline_run_id,
        "pipeline_step": ctx.step,
    }
