"""The manifest of a saved model: ``modelyard.json`` next to the model's files.

It records what a loader and a reviewer need without unpickling anything:
the flavor (which adapter loads the files), the task and class labels, the
signature, the framework and Python versions the model was saved with, and
pinned requirements to rebuild that environment. The registry copies these
fields into the model version, and serving builds its API from them.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput, NotFound
from modelyard.flavors.domain import Domain
from modelyard.flavors.policy import InputPolicy
from modelyard.flavors.probe import Probe
from modelyard.flavors.signature import Signature

__all__ = [
    "MANIFEST_FILE",
    "MANIFEST_FORMAT",
    "MODEL_FORMATS",
    "TASKS",
    "ModelManifest",
    "model_format_of",
    "read_manifest",
]

MANIFEST_FILE = "modelyard.json"
MANIFEST_FORMAT = "modelyard.model/v1"
TASKS = ("classification", "regression")
MODEL_FORMATS = ("skops", "lightgbm-text", "xgboost-json", "onnx", "pickle")
"""How the model's bytes are stored: data formats first; ``pickle`` is trusted code."""
_PICKLE_FILE = "model.pkl"


@dataclass(frozen=True)
class ModelManifest:
    """What a saved model is, as recorded in its ``modelyard.json``.

    Attributes:
        flavor: Adapter that saved and loads the files: sklearn, lightgbm, xgboost, onnx, python.
        task: ``"classification"`` or ``"regression"``.
        classes: Class labels in the order of ``predict_proba``'s columns, or None.
        signature: Input and output columns, or None when saved without an example.
        framework: Distribution name to installed version, e.g. ``{"lightgbm": "4.7.0"}``.
        python_version: Interpreter version at save time, e.g. ``"3.11.9"``.
        requirements: Pinned requirements to load the model, e.g. ``"lightgbm==4.7.0"``.
        files: The model's files, relative to its directory (the manifest excluded).
        created_at: ISO 8601 UTC time of saving.
        model_class: Dotted class of the saved object, e.g. ``"sklearn.pipeline.Pipeline"``.
        domain: What training held per input column (soft; see ``flavors.domain``), or None.
        probe: What the model scored at registration (see ``flavors.probe``), or None.
        input_policy: Explicit score/reject actions (see ``flavors.policy``), or None.
        model_format: One of :data:`MODEL_FORMATS`; ``"pickle"`` means trusted code.
        skops_types: Types a ``skops`` file needs beyond skops' own trusted set
            (``skops.io.get_untrusted_types``), checked against the allow-list on load.

    ``domain``, ``probe`` and ``input_policy`` are written only when set, so
    manifests saved before they existed read and hash as before.
    """

    flavor: str
    task: str
    classes: list[Any] | None
    signature: Signature | None
    framework: dict[str, str]
    python_version: str
    requirements: list[str]
    files: list[str]
    created_at: str
    model_class: str
    model_format: str = ""
    skops_types: list[str] = field(default_factory=list)
    domain: Domain | None = None
    probe: Probe | None = None
    input_policy: InputPolicy | None = None

    @property
    def trusted_code(self) -> bool:
        """True for a pickled model: loading it runs code its registrant chose."""
        return self.model_format == "pickle"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InvalidInput(f"The task must be one of {TASKS}. Got {self.task!r} instead.")
        if not self.model_format:  # a manifest built in code: derived as for an old one
            derived = model_format_of({"flavor": self.flavor, "files": self.files})
            object.__setattr__(self, "model_format", derived)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "flavor": self.flavor,
            "task": self.task,
            "classes": self.classes,
            "signature": self.signature.to_dict() if self.signature is not None else None,
            "framework": dict(self.framework),
            "python_version": self.python_version,
            "requirements": list(self.requirements),
            "files": list(self.files),
            "created_at": self.created_at,
            "model_class": self.model_class,
            "model_format": self.model_format,
            "skops_types": list(self.skops_types),
            **({"domain": self.domain.to_dict()} if self.domain is not None else {}),
            **({"probe": self.probe.to_dict()} if self.probe is not None else {}),
            **(
                {"policy": self.input_policy.to_dict()}
                if self.input_policy is not None and not self.input_policy.empty
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelManifest:
        if data.get("format") != MANIFEST_FORMAT:
            raise InvalidInput(
                f"unsupported model manifest format {data.get('format')!r}; "
                f"this Modelyard reads {MANIFEST_FORMAT!r}"
            )
        try:
            signature = data.get("signature")
            return cls(
                flavor=data["flavor"],
                task=data["task"],
                classes=data.get("classes"),
                signature=Signature.from_dict(signature) if signature is not None else None,
                framework=dict(data.get("framework") or {}),
                python_version=data.get("python_version", ""),
                requirements=list(data.get("requirements") or []),
                files=list(data.get("files") or []),
                created_at=data.get("created_at", ""),
                model_class=data.get("model_class", ""),
                model_format=model_format_of(data),
                skops_types=list(data.get("skops_types") or []),
                domain=Domain.from_dict(data["domain"]) if data.get("domain") else None,
                probe=Probe.from_dict(data["probe"]) if data.get("probe") else None,
                input_policy=InputPolicy.from_dict(data["policy"]) if data.get("policy") else None,
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInput(f"invalid model manifest: missing or bad field {exc}") from exc

    def write(self, directory: Path) -> None:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False)
        (directory / MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")


def model_format_of(data: Mapping[str, Any]) -> str:
    """The storage format of a manifest (as a dict), also for manifests older than the field.

    Versions saved before formats were recorded are ``pickle`` when they hold
    ``model.pkl`` (every sklearn, xgboost and wrapped LightGBM model then was).
    """
    recorded = data.get("model_format")
    if recorded:
        return str(recorded)
    files = data.get("files") or []
    if _PICKLE_FILE in files:
        return "pickle"
    return {"lightgbm": "lightgbm-text", "xgboost": "xgboost-json", "onnx": "onnx"}.get(
        str(data.get("flavor")), "pickle"
    )


def read_manifest(directory: str | Path) -> ModelManifest:
    """Read ``modelyard.json`` from a model directory.

    Raises:
        NotFound: The directory or its manifest does not exist.
        InvalidInput: The manifest is not valid JSON or not a Modelyard model manifest.
    """
    path = Path(directory) / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFound(f"no saved model at {str(directory)!r}: {MANIFEST_FILE} is missing") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} is not a model manifest")
    return ModelManifest.from_dict(data)


def python_version() -> str:
    return platform.python_version()


@lru_cache(maxsize=1)
def _distributions_by_module() -> Mapping[str, list[str]]:
    # Reads every installed distribution's metadata once per process (tens of ms).
    return metadata.packages_distributions()


def distributions(modules: Iterable[str]) -> dict[str, str]:
    """Installed distribution name -> version for top-level module names.

    ``sklearn`` maps to ``scikit-learn`` and ``xgboost`` to whichever of
    ``xgboost``/``xgboost-cpu`` is installed; modules that belong to no
    installed distribution (a test helper, ``__main__``) are skipped.
    """
    found: dict[str, str] = {}
    for module in modules:
        for dist in _distributions_by_module().get(module, []):
            try:
                found[dist.lower()] = metadata.version(dist)
            except metadata.PackageNotFoundError:  # pragma: no cover - stale metadata
                continue
    return found


def pinned(framework: Mapping[str, str], extra: Iterable[str] = ()) -> list[str]:
    """Requirements: the frameworks, numpy and pandas pinned, then the caller's extras."""
    pins = dict(framework)
    pins.update(distributions(["numpy", "pandas"]))
    requirements = [f"{name}=={version}" for name, version in sorted(pins.items())]
    for requirement in extra:
        if requirement not in requirements:
            requirements.append(requirement)
    return requirements
