"""``show_summary(run_dir)``: the verdict, exponent and failures tables in the terminal (rich).

Readable at 80 columns: cells never wrap (a cell too long for its column ends in an ellipsis),
"not estimable (reason)" cells become "not estimable [k]" with the reasons printed once under
the table, and below ``WIDE`` columns only the essential columns are shown (the report and
``tables/*.csv`` have them all).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from harness.analysis import analyse_run
from reports import tables as T

VERDICT_STYLE = {"grows": "bold red", "bounded": "bold green", "not enough evidence": "yellow"}
#: terminal width from which every column is shown
WIDE = 160
#: the columns shown on a narrower terminal
ESSENTIAL = {
    "verdict": ["task family", "learner", "slope of beta vs index [CI]", "verdict"],
    "exponents": ["task", "learner", "beta [95% CI]", "theory beta", "verdict"],
    "failures": ["task", "learner", "status", "count", "reason"],
}
SHORT_NAMES = {"slope of beta vs index [CI]": "slope [CI]", "beta [95% CI]": "beta [CI]"}


def rich_table(df: pd.DataFrame, title: str, style_col: str | None = None) -> Table:
    """A rich Table from a display DataFrame (optionally colouring one column by its value);
    cells do not wrap: they end in an ellipsis when the terminal is too narrow."""
    table = Table(title=title, show_lines=False, header_style="bold", title_justify="left",
                  pad_edge=False, collapse_padding=True)
    for col in df.columns:
        table.add_column(str(col), overflow="ellipsis", no_wrap=True)
    for _, row in df.iterrows():
        cells = ["" if pd.isna(v) else str(v) for v in row]
        if style_col in df.columns:
            i = list(df.columns).index(style_col)
            style = VERDICT_STYLE.get(cells[i])
            cells[i] = f"[{style}]{cells[i]}[/]" if style else cells[i]
        table.add_row(*cells)
    return table


def _fit(df: pd.DataFrame, kind: str, width: int) -> pd.DataFrame:
    """All columns on a wide terminal, the essential ones (shorter names) otherwise."""
    if width >= WIDE:
        return df
    cols = [c for c in ESSENTIAL[kind] if c in df.columns]
    return df[cols].rename(columns=SHORT_NAMES)


def _print_table(console: Console, df: pd.DataFrame, kind: str, title: str,
                 style_col: str | None = None, empty: str = "none") -> None:
    if df.empty:
        console.print(f"{title}: {empty}")
        return
    df, notes = T.footnote_reasons(_fit(df, kind, console.width))
    console.print(rich_table(df, title, style_col))
    if notes:
        console.print(T.footnote_text(notes))


def show_summary(run_dir: str | Path, console: Console | None = None, *, eps=None,
                 n_boot: int = 1000, seed: int = 0) -> None:
    """Print the verdicts, table 1 (exponents, theory, verdict) and table 6 (failures)."""
    console = console or Console()
    a = analyse_run(run_dir, eps=eps, n_boot=n_boot, seed=seed)
    console.print(f"[bold]{a.spec.get('name', Path(run_dir).name)}[/]: {a.eps.text()}, "
                  f"{len(a.records)} records, {a.n_ok} ok")
    if a.n_ok == 0:
        console.print("[yellow]no ok records: no n* or exponent can be computed[/]")
    verdict = T.verdict_table(a)
    if len(verdict):
        verdict = verdict[~verdict["why"].astype(str).str.startswith("one index value")]
    _print_table(console, verdict, "verdict", "Verdict: does beta grow with depth/degree?",
                 "verdict", "none (no task family with two or more depth/degree values)")
    _print_table(console, T.exponent_table(a), "exponents",
                 "1. Exponents: n* ~ d^beta, t* ~ d^gamma", "verdict")
    _print_table(console, T.failures_table(a), "failures", "6. Failures, timeouts and skips")
    if console.width < WIDE:
        console.print(f"(essential columns only below {WIDE} columns; all of them: "
                      "`hierbench report` and tables/*.csv)")
