"""The one Jinja2 environment both reports render with, and the offline Plotly bundle.

Templates live in ``templates/`` (package data) and share ``_layout.html.j2``,
which inlines ``_style.css``: the validation report and the model card look
alike because they are styled in one place. Autoescaping is on; chart HTML and
the Plotly bundle are marked safe explicitly where they are inserted.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from modelyard.reports._format import fmt_int, fmt_num, fmt_pct, fmt_value, fmt_when

__all__ = ["plotly_bundle", "render"]


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("modelyard.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails a test, not a reader
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_num, count=fmt_int, pct=fmt_pct, value=fmt_value, when=fmt_when)
    return env


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return _environment().get_template(template).render(**context)


@lru_cache(maxsize=1)
def plotly_bundle() -> str:
    """Plotly's JavaScript from the installed package, so reports need no network or CDN."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
