"""``show_summary(run_dir)``: the exponent table and the failures table in the terminal (rich)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from harness.analysis import analyse_run
from reports import tables as T

VERDICT_STYLE = {"grows": "bold red", "bounded": "bold green", "not enough evidence": "yellow"}


def rich_table(df: pd.DataFrame, title: str, style_col: str | None = None) -> Table:
    """A rich Table from a display DataFrame (optionally colouring one column by its value)."""
    table = Table(title=title, show_lines=False, header_style="bold", title_justify="left")
    for col in df.columns:
        table.add_column(str(col), overflow="fold")
    for _, row in df.iterrows():
        cells = ["" if pd.isna(v) else str(v) for v in row]
        if style_col in df.columns:
            i = list(df.columns).index(style_col)
            style = VERDICT_STYLE.get(cells[i])
            cells[i] = f"[{style}]{cells[i]}[/]" if style else cells[i]
        table.add_row(*cells)
    return table


def show_summary(run_dir: str | Path, console: Console | None = None, *, eps=None,
                 n_boot: int = 1000, seed: int = 0) -> None:
    """Print table 1 (exponents, theory, verdict) and table 6 (failures, timeouts, skips)."""
    console = console or Console()
    a = analyse_run(run_dir, eps=eps, n_boot=n_boot, seed=seed)
    console.print(f"[bold]{a.spec.get('name', Path(run_dir).name)}[/]: {a.eps.text()}, "
                  f"{len(a.records)} records, {a.n_ok} ok")
    if a.n_ok == 0:
        console.print("[yellow]no ok records: no n* or exponent can be computed[/]")
    exp = T.exponent_table(a)
    console.print(rich_table(exp, "1. Exponents: n* ~ d^beta, t* ~ d^gamma", "verdict")
                  if len(exp) else "1. Exponents: (none)")
    fail = T.failures_table(a)
    console.print(rich_table(fail, "6. Failures, timeouts and skips")
                  if len(fail) else "6. Failures, timeouts and skips: none")
