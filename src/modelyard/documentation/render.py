"""Markdown and self-contained HTML from the collected sections.

Both come from the same sections, so they cannot disagree. The HTML carries
plotly's bundled JavaScript inline, once, so its plots draw with no network:
the document can be opened on an air-gapped review machine or attached to a
submission as one file.
"""

from __future__ import annotations

import html
from typing import Any

from modelyard.documentation.collect import NOT_RECORDED, Section

__all__ = ["render_html", "render_markdown"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1b1f24; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
.source { color: #57606a; font-size: .85rem; margin: 0 0 .6rem; }
.not-recorded { color: #9a6700; font-style: italic; }
nav li { margin: .1rem 0; }
"""


def _md_cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def render_markdown(title: str, intro: str, sections: list[Section]) -> str:
    lines = [f"# {title}", "", intro, ""]
    for section in sections:
        lines += [f"## {section.title}", "", f"_Source: {section.source}_", ""]
        if not section.recorded:
            lines += [f"**{NOT_RECORDED.capitalize()}.**", ""]
            continue
        for block in section.blocks:
            lines += _md_block(block)
    return "\n".join(lines).rstrip() + "\n"


def _md_block(block: dict[str, Any]) -> list[str]:
    kind = block["type"]
    if kind == "text":
        return [block["text"], ""]
    if kind == "figure":
        return [f"_Figure: {block['caption']} (drawn in the HTML version)._", ""]
    if kind == "kv":
        columns, rows = ["Field", "Value"], [list(r) for r in block["rows"]]
    else:
        columns, rows = block["columns"], block["rows"]
    out = ["| " + " | ".join(_md_cell(c) for c in columns) + " |"]
    out.append("| " + " | ".join("---" for _ in columns) + " |")
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def render_html(title: str, intro: str, sections: list[Section]) -> str:
    from plotly.offline import get_plotlyjs

    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{_STYLE}</style>",
        f"<script>{get_plotlyjs()}</script>",
        "</head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>{esc(intro)}</p>",
        "<nav><ol>",
        *(f'<li><a href="#{s.id}">{esc(s.title)}</a></li>' for s in sections),
        "</ol></nav>",
    ]
    for section in sections:
        state = "recorded" if section.recorded else "not-recorded"
        parts.append(f'<section id="{section.id}" data-state="{state}">')
        parts.append(f"<h2>{esc(section.title)}</h2>")
        parts.append(f'<p class="source">Source: {esc(section.source)}</p>')
        if not section.recorded:
            parts.append(f'<p class="not-recorded">{NOT_RECORDED.capitalize()}.</p>')
        for block in section.blocks:
            parts.append(_html_block(block))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_block(block: dict[str, Any]) -> str:
    esc = html.escape
    kind = block["type"]
    if kind == "text":
        return f"<p>{esc(block['text'])}</p>"
    if kind == "figure":
        figure = block["figure"].to_html(
            full_html=False, include_plotlyjs=False, config={"displaylogo": False}
        )
        caption = f"<figcaption>{esc(block['caption'])}</figcaption>"
        return f'<figure class="plot">{figure}{caption}</figure>'
    if kind == "kv":
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in block["rows"])
        return f"<table>{rows}</table>"
    head = "".join(f"<th>{esc(c)}</th>" for c in block["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block["rows"]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
