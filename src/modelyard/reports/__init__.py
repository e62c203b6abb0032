"""Documents about a model version: the validation report and the model card.

Both are pure functions of a model, data and plain metadata dicts, so the
registry, the CLI and a notebook produce the same documents.
"""

from __future__ import annotations

from modelyard.reports.card import render_model_card
from modelyard.reports.validation import ValidationResult, validate_model

__all__ = ["ValidationResult", "render_model_card", "validate_model"]
