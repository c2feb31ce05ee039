"""Render a report, given as a list of blocks, to Markdown and to self-contained HTML.

A block is ``(kind, content)`` with kind one of ``h1``, ``h2``, ``h3``, ``p``, ``note``,
``small`` (a footnote line), ``table`` (a DataFrame), ``facts`` (a two-column DataFrame of
(item, value) rows: a definition list in HTML, a bullet list in Markdown), ``figure`` (a
:class:`reports.savefig.Figure`), ``headline`` (the first screen's figure), ``pre``
(preformatted text), ``nav`` (the table of contents of the h2 headings; content ignored) or
``details`` (content ``(summary, [blocks])``: a collapsible group, ``<details>`` in HTML and in
GitHub Markdown).  The same blocks give report.md (figures linked as files) and report.html
(figures embedded as base64 PNG, no external resources, no scripts).
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
.scroll { overflow-x: auto; max-width: 100%; }
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
.small { font-size: 12px; color: #444; }
details { margin: .6em 0; border: 1px solid #ddd; border-radius: 4px; padding: .3em .7em; }
summary { cursor: pointer; font-weight: 600; }
figure.headline img { max-height: 70vh; width: auto; max-width: 100%; }
dl.facts { display: grid; grid-template-columns: max-content 1fr max-content 1fr;
           gap: .15em 1em; font-size: 14px; margin: .6em 0; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
h1 { margin: .2em 0 .3em; } h2.first { margin-top: .8em; }
h3 { margin: .9em 0 .3em; font-size: 1.05em; }
@media (max-width: 800px) { dl.facts { grid-template-columns: max-content 1fr; } }
@media (max-width: 600px) { body { margin: .5em auto; padding: 0 .5em; } nav ul { columns: 1; }
  h1 { font-size: 1.4em; } h2 { font-size: 1.2em; } }
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


def _md_blocks(blocks: list[tuple[str, object]], base: Path) -> list[str]:
    out = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + str(content))
        elif kind in ("p", "small"):
            out.append(str(content))
        elif kind == "note":
            out.append("> **Note.** " + str(content))
        elif kind == "table":
            out.append(md_table(content))
        elif kind == "facts":
            out.append("\n".join(f"- **{k}**: {v}" for k, v in content.itertuples(index=False)))
        elif kind in ("figure", "headline"):
            rel = content.png.relative_to(base).as_posix()
            links = [f"[{fmt.upper()}]({path.relative_to(base).as_posix()})"
                     for fmt, path in (("svg", content.svg), ("pdf", content.pdf)) if path]
            more = f" ({', '.join(links)})" if links else ""
            out.append(f"![{content.title}]({rel})\n\n*{content.caption}*{more}")
        elif kind == "pre":
            out.append("```\n" + str(content) + "\n```")
        elif kind == "details":
            summary, inner = content
            out.append(f"<details><summary>{html.escape(str(summary))}</summary>\n\n"
                       + "\n\n".join(_md_blocks(inner, base)) + "\n\n</details>")
    return out


def to_markdown(blocks: list[tuple[str, object]], base: Path) -> str:
    """report.md: figures linked relative to ``base`` (the report folder)."""
    return "\n\n".join(_md_blocks(blocks, base)) + "\n"


def _img(fig, css_class: str = "") -> str:
    data = base64.b64encode(fig.png.read_bytes()).decode("ascii")
    cls = f' class="{css_class}"' if css_class else ""
    return (f'<figure id="{html.escape(fig.name)}"{cls}><img alt="{html.escape(fig.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(fig.caption)}'
            "</figcaption></figure>")


def _anchor(text: str) -> str:
    return "s-" + "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _table_html(df: pd.DataFrame) -> str:
    if df.empty:
        return "<p><em>(no rows)</em></p>"
    return ('<div class="scroll">' + df.to_html(index=False, escape=True, na_rep="", border=0)
            + "</div>")


def _html_blocks(blocks: list[tuple[str, object]]) -> list[str]:
    body = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            text = html.escape(str(content))
            cls = ' class="first"' if kind == "h2" and "<nav>{nav}</nav>" not in body else ""
            body.append(f'<{kind} id="{_anchor(str(content))}"{cls}>{text}</{kind}>')
        elif kind == "p":
            body.append(f"<p>{html.escape(str(content))}</p>")
        elif kind == "small":
            body.append(f'<p class="small">{html.escape(str(content))}</p>')
        elif kind == "note":
            body.append(f'<p class="note">{html.escape(str(content))}</p>')
        elif kind == "table":
            body.append(_table_html(content))
        elif kind == "facts":
            items = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>"
                            for k, v in content.itertuples(index=False))
            body.append(f'<dl class="facts">{items}</dl>')
        elif kind in ("figure", "headline"):
            body.append(_img(content, "headline" if kind == "headline" else ""))
        elif kind == "pre":
            body.append(f"<pre>{html.escape(str(content))}</pre>")
        elif kind == "nav":
            body.append("<nav>{nav}</nav>")
        elif kind == "details":
            summary, inner = content
            body.append(f"<details><summary>{html.escape(str(summary))}</summary>"
                        + "\n".join(_html_blocks(inner)) + "</details>")
    return body


def to_html(blocks: list[tuple[str, object]], title: str) -> str:
    """report.html: one self-contained file (figures embedded, inline CSS, no scripts)."""
    toc = [f'<li><a href="#{_anchor(str(c))}">{html.escape(str(c))}</a></li>'
           for k, c in blocks if k == "h2"]
    nav = f"<ul>{''.join(toc)}</ul>" if toc else ""
    body = "\n".join(_html_blocks(blocks)).replace("<nav>{nav}</nav>", f"<nav>{nav}</nav>", 1)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
            + body + "\n</body></html>\n")
