"""Who may load a version whose model is trusted code (a pickle).

Unpickling runs whatever code the pickle names, so a pickled version is its
registrant's code until others have vouched for it:

* its registrant may load and serve it (it is their own code);
* anyone else only once it has its sign-offs — the roles its model's policy
  requires for a protected alias, and at least an approver's when the policy
  requires none (tier 3): trusted code always needs a second person;
* the platform server never loads it in its own process, whoever asks:
  validation, reports, compilation and parity checks run in a separate worker
  process (:mod:`modelyard.registry.isolation`).

Versions stored as data (skops, LightGBM text, XGBoost JSON, ONNX) load for
every reader; their skops types are checked against the allow-list instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelyard.errors import PermissionDenied
from modelyard.flavors.manifest import model_format_of
from modelyard.registry.policy import Policy

__all__ = [
    "FORMAT_LABELS",
    "format_facts",
    "is_trusted_code",
    "missing_code_sign_offs",
    "require_loadable",
]

FORMAT_LABELS = {
    "skops": "skops (data; its types are checked against the allow-list on every load)",
    "lightgbm-text": "LightGBM model text (data)",
    "xgboost-json": "XGBoost JSON (data)",
    "onnx": "ONNX (data)",
    "pickle": (
        "trusted code (pickle): loading it runs code its registrant chose; only they may "
        "load it until it has its sign-offs, and the platform server never does"
    ),
}

MINIMUM_CODE_SIGN_OFFS = ("approver",)
"""Sign-offs trusted code needs when its model's policy requires none."""


def is_trusted_code(info: Any) -> bool:
    """True when the version's model is a pickle (``info`` is a ModelVersionInfo)."""
    return model_format_of(info.manifest or {"flavor": info.flavor}) == "pickle"


def format_facts(info: Any) -> dict[str, Any]:
    """How the version's model is stored, for the version page, the card and sign-off."""
    manifest = info.manifest or {"flavor": info.flavor}
    model_format = model_format_of(manifest)
    return {
        "model_format": model_format,
        "label": FORMAT_LABELS.get(model_format, model_format),
        "trusted_code": model_format == "pickle",
        "skops_types": list(manifest.get("skops_types") or []),
    }


def missing_code_sign_offs(policy: Policy, approvals: Iterable[Any]) -> list[str]:
    """Roles whose standing sign-off trusted code still lacks before others may load it."""
    required = policy.required_roles or MINIMUM_CODE_SIGN_OFFS
    return Policy(policy.risk_tier, policy.protected_aliases, tuple(required)).missing_sign_offs(
        (a.role, a.user, a.decision) for a in approvals
    )


def require_loadable(info: Any, policy: Policy, user: str, *, in_platform_server: bool) -> None:
    """Refuse loading ``info``'s model in this process when its code is not trusted here.

    Raises:
        PermissionDenied: The version is trusted code and this is the platform
            server, or ``user`` is not its registrant and sign-offs are missing.
    """
    if not is_trusted_code(info):
        return
    if in_platform_server:
        raise PermissionDenied(
            f"{info.ref} is trusted code (a pickle) and the platform server never loads "
            "trusted code in its own process; its validation, reports and compilation run "
            "in a separate worker process",
            details={"rule": "trusted-code", "ref": info.ref},
        )
    if info.created_by == user:
        return
    missing = missing_code_sign_offs(policy, info.approvals)
    if missing:
        raise PermissionDenied(
            f"{info.ref} is trusted code (a pickle registered by {info.created_by}): nobody "
            f"but its registrant may load or serve it until it has its sign-offs; missing "
            f"sign-off by {' and '.join(missing)} "
            f"(see 'modelyard models approve {info.ref}')",
            details={"rule": "trusted-code", "ref": info.ref, "missing_sign_offs": missing},
        )
