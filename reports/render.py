"""Render a report, given as a list of blocks, to Markdown and to self-contained HTML.

A block is ``(kind, content)`` with kind one of ``h1``, ``h2``, ``h3``, ``p``, ``note``, ``table``
(a DataFrame), ``figure`` (a :class:`reports.figures.Figure`) or ``pre`` (preformatted text).  The
same blocks give report.md (figures linked as files) and report.html (figures embedded as base64
PNG, no external resources, no scripts).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; font-size: 12px; margin: .8em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 12px; color: #555; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: 12px; }
.note { background: #fff6e0; border-left: 4px solid #e0a000; padding: .5em .8em; }
nav ul { columns: 2; font-size: 13px; }
"""


def md_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pipes and newlines in cells escaped)."""
    if df.empty:
        return "_(no rows)_"

    def cell(v) -> str:
        s = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
        return s.replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(cell(c) for c in df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def to_markdown(blocks: list[tuple[str, object]], base: Path) -> str:
    """report.md: figures linked relative to ``base`` (the report folder)."""
    out = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + str(content))
        elif kind == "p":
            out.append(str(content))
        elif kind == "note":
            out.append("> **Note.** " + str(content))
        elif kind == "table":
            out.append(md_table(content))
        elif kind == "figure":
            rel = content.png.relative_to(base).as_posix()
            svg = content.svg.relative_to(base).as_posix()
            out.append(f"![{content.title}]({rel})\n\n*{content.caption}* ([SVG]({svg}))")
        elif kind == "pre":
            out.append("```\n" + str(content) + "\n```")
    return "\n\n".join(out) + "\n"


def _img(fig) -> str:
    data = base64.b64encode(fig.png.read_bytes()).decode("ascii")
    return (f'<figure id="{html.escape(fig.name)}"><img alt="{html.escape(fig.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(fig.caption)}'
            "</figcaption></figure>")


def _anchor(text: str) -> str:
    return "s-" + "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def to_html(blocks: list[tuple[str, object]], title: str) -> str:
    """report.html: one self-contained file (figures embedded, inline CSS, no scripts)."""
    body, toc = [], []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            text = html.escape(str(content))
            if kind == "h2":
                toc.append(f'<li><a href="#{_anchor(str(content))}">{text}</a></li>')
            body.append(f'<{kind} id="{_anchor(str(content))}">{text}</{kind}>')
        elif kind == "p":
            body.append(f"<p>{html.escape(str(content))}</p>")
        elif kind == "note":
            body.append(f'<p class="note">{html.escape(str(content))}</p>')
        elif kind == "table":
            body.append("<p><em>(no rows)</em></p>" if content.empty else
                        content.to_html(index=False, escape=True, na_rep="", border=0))
        elif kind == "figure":
            body.append(_img(content))
        elif kind == "pre":
            body.append(f"<pre>{html.escape(str(content))}</pre>")
    nav = f"<nav><ul>{''.join(toc)}</ul></nav>" if toc else ""
    if body and body[0].startswith("<h1"):
        body.insert(1, nav)
    else:
        body.insert(0, nav)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
