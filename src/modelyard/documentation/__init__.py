"""Technical documentation of a model version, written from what the platform recorded.

``document(yard, "credit-risk/3")`` collects the facts (``collect``), renders
them as Markdown and as one self-contained HTML file (``render``), writes both
under ``<home>/reports/<name>/v<version>/`` (or ``output``) and attaches them
to the version, so the pack a supervisor received stays with the version it
describes. Through a platform server (a ``RemoteYard``) there is no route for
attaching files, so the pack is written locally and ``attached`` says so.
Layer: beside serving and monitoring; it reads a Yard and imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelyard.documentation.collect import NOT_RECORDED, Section, collect_sections
from modelyard.documentation.render import render_html, render_markdown

__all__ = ["DOCUMENT_HTML", "DOCUMENT_MARKDOWN", "NOT_RECORDED", "DocumentOutcome", "document"]

DOCUMENT_MARKDOWN = "technical_documentation.md"
DOCUMENT_HTML = "technical_documentation.html"


@dataclass(frozen=True)
class DocumentOutcome:
    ref: str
    markdown_path: Path
    html_path: Path
    sections: list[Section]
    attached: bool = True

    @property
    def not_recorded(self) -> list[str]:
        return [s.title for s in self.sections if not s.recorded]


def document(yard: Any, ref: str, output: str | Path | None = None) -> DocumentOutcome:
    """Write the technical documentation of ``ref`` (HTML and Markdown) and attach it."""
    info, sections = collect_sections(yard, ref)
    title = f"Technical documentation: {info.ref}"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    intro = (
        f"Written by Modelyard on {when} for {yard.user} from the registry, tracking, datasets, "
        "deployments, monitoring and the audit trail. Every section names its source; a section "
        f"with nothing recorded says '{NOT_RECORDED}'."
    )
    markdown = render_markdown(title, intro, sections)
    page = render_html(title, intro, sections)
    # A local Yard keeps its home in its settings; a RemoteYard has one of its own.
    home = yard.settings.home if hasattr(yard, "settings") else Path(yard.home)
    folder = (
        Path(output) if output is not None else home / "reports" / info.name / f"v{info.version}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    md_path, html_path = folder / DOCUMENT_MARKDOWN, folder / DOCUMENT_HTML
    md_path.write_text(markdown, encoding="utf-8")
    html_path.write_text(page, encoding="utf-8")
    attach = getattr(yard.models, "attach", None)  # the platform API has no attach route
    if attach is None:
        return DocumentOutcome(info.ref, md_path, html_path, sections, attached=False)
    for name, body in ((DOCUMENT_MARKDOWN, markdown), (DOCUMENT_HTML, page)):
        digest = yard.artifacts.put_bytes(body.encode("utf-8"))
        attach(info.ref, name, digest, kind="documentation")
    return DocumentOutcome(info.ref, md_path, html_path, sections)
