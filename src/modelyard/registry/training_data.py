"""Which of a version's datasets are its training data, and which its holdout.

A version records the datasets of its run with the role word they were logged with:
``start_run(..., inputs=[train])`` logs them as "input", ``run.log_input(ds,
role="training")`` as "training", and ``register(..., datasets=...)`` as "training".
Monitoring references, the validation report's score PSI and promotion gates all
need *the training data*, so one rule decides it, here:

1. datasets whose role is a training word (``TRAINING_ROLES``), else
2. every dataset whose role is not a holdout word (``HOLDOUT_ROLES``): a run's
   plain inputs are what it trained on.

Holdout datasets (role "holdout", "validation", "valid", "test", "oot", ...) are never
training data; they calibrate estimated performance and give the baseline metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelyard.flavors.domain import EVALUATION_ROLES

if TYPE_CHECKING:
    from modelyard.registry.entities import ModelVersionInfo

__all__ = ["HOLDOUT_ROLES", "TRAINING_ROLES", "TrainingData", "holdout_datasets", "training_data"]

TRAINING_ROLES = ("training", "train")
# The training domain (flavors.domain) leaves out the same words: one list for both.
HOLDOUT_ROLES = EVALUATION_ROLES


@dataclass(frozen=True)
class TrainingData:
    """The training datasets found for a version, and how they were recognised.

    ``refs`` lists dataset references (the first is the one used when one is needed);
    ``role`` is the role word they were recorded with.
    """

    refs: tuple[str, ...]
    role: str | None

    @property
    def first(self) -> str | None:
        return self.refs[0] if self.refs else None

    def describe(self) -> str:
        """Plain words for a person: which dataset, and why it counts as training data."""
        if not self.refs:
            return "no training dataset recorded"
        how = (
            f"role {self.role!r}"
            if (self.role or "").lower() in TRAINING_ROLES
            else "input of the training run"
        )
        text = f"training dataset {self.refs[0]} ({how})"
        if len(self.refs) > 1:
            text += f"; also recorded: {', '.join(self.refs[1:])}"
        return text


def training_data(info: ModelVersionInfo) -> TrainingData:
    """The version's training datasets by the rule in the module docstring."""
    explicit = [(ref, role) for ref, role in info.datasets if role.lower() in TRAINING_ROLES]
    if explicit:
        return TrainingData(tuple(r for r, _ in explicit), explicit[0][1])
    plain = [(ref, role) for ref, role in info.datasets if role.lower() not in HOLDOUT_ROLES]
    if plain:
        return TrainingData(tuple(r for r, _ in plain), plain[0][1])
    return TrainingData((), None)


def holdout_datasets(info: ModelVersionInfo) -> list[str]:
    """The version's held-out datasets (a holdout role word), in recorded order."""
    return [ref for ref, role in info.datasets if role.lower() in HOLDOUT_ROLES]
