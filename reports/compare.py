"""``hierbench compare RUN_A RUN_B``: the exponent and verdict tables of two runs side by side.

Rows are matched on (task configuration, learner label) for the exponents and on (task family,
learner label) for the verdicts.  The ``difference`` column marks, in this order:

* ``only in A`` / ``only in B``: the row exists in one run only;
* ``verdict A -> B``: the verdict changed;
* ``kind A -> B``: beta changed kind (exact, lower bound, upper bound, not estimable);
* ``beta moved``: both betas exact or bounds and their 95 % CIs are disjoint (a change larger
  than the bootstrap noise of either run);

and is empty otherwise.  ``delta beta`` = beta_B - beta_A (point estimates).  Printed with rich
(changed rows in bold) and written as Markdown (changed cells in bold).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from harness.analysis import Analysis, analyse_run
from reports import tables as T
from reports.render import md_table
from reports.show import rich_table


@dataclass
class Comparison:
    """Two analysed runs and their side-by-side tables."""

    a: Analysis
    b: Analysis
    exponents: pd.DataFrame
    verdicts: pd.DataFrame

    @property
    def n_differences(self) -> int:
        return int((self.exponents["difference"] != "").sum()
                   + (self.verdicts["difference"] != "").sum())


def _verdicts_by(an: Analysis) -> dict:
    v = an.verdicts
    return {} if v.empty else dict(zip(zip(v["family_key"], v["label"], strict=True),
                                       v["verdict"], strict=True))


def _beta_rows(an: Analysis) -> pd.DataFrame:
    e = an.exponents
    cols = ["task_label", "label", "family_key", "beta", "beta_lo", "beta_hi", "beta_kind",
            "beta_text"]
    if e.empty:
        return pd.DataFrame(columns=[*cols, "verdict"])
    out = e[cols].copy()
    look = _verdicts_by(an)
    out["verdict"] = [look.get((k, lab), "") for k, lab in zip(out["family_key"], out["label"],
                                                                strict=True)]
    return out


def _difference(r: pd.Series) -> str:
    if pd.isna(r["beta_text_A"]):
        return "only in B"
    if pd.isna(r["beta_text_B"]):
        return "only in A"
    if r["verdict_A"] != r["verdict_B"]:
        return f"verdict {r['verdict_A'] or '-'} -> {r['verdict_B'] or '-'}"
    if r["beta_kind_A"] != r["beta_kind_B"]:
        return f"kind {r['beta_kind_A']} -> {r['beta_kind_B']}"
    if r["beta_kind_A"] != "not estimable":
        lo_a, hi_a, lo_b, hi_b = (float(r[c]) for c in ("beta_lo_A", "beta_hi_A", "beta_lo_B",
                                                          "beta_hi_B"))
        if np.isfinite([lo_a, hi_a, lo_b, hi_b]).all() and (hi_a < lo_b or hi_b < lo_a):
            return "beta moved"
    return ""


def exponent_comparison(a: Analysis, b: Analysis) -> pd.DataFrame:
    """beta and verdict of run A and run B per (task configuration, learner)."""
    m = _beta_rows(a).merge(_beta_rows(b), on=["task_label", "label"], how="outer",
                            suffixes=("_A", "_B"), sort=True)
    cols = ["task", "learner", "beta A", "beta B", "delta beta", "verdict A", "verdict B",
            "difference"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    delta = pd.to_numeric(m["beta_B"], errors="coerce") - pd.to_numeric(m["beta_A"],
                                                                         errors="coerce")
    both = (m["beta_kind_A"] != "not estimable") & (m["beta_kind_B"] != "not estimable")
    rows = pd.DataFrame({
        "task": m["task_label"], "learner": m["label"],
        "beta A": m["beta_text_A"].fillna("-"), "beta B": m["beta_text_B"].fillna("-"),
        "delta beta": [T.fmt(x) if ok else "" for x, ok in zip(delta, both, strict=True)],
        "verdict A": m["verdict_A"].fillna(""), "verdict B": m["verdict_B"].fillna(""),
        "difference": [_difference(r) for _, r in m.iterrows()]})
    return rows[cols].reset_index(drop=True)


def verdict_comparison(a: Analysis, b: Analysis) -> pd.DataFrame:
    """Slope of beta against the index and the verdict of both runs per (family, learner)."""
    cols = ["task family", "learner", "slope A", "slope B", "verdict A", "verdict B",
            "difference"]
    parts = []
    for an in (a, b):
        v = an.verdicts
        if v.empty:
            parts.append(pd.DataFrame(columns=["family_key", "label", "slope", "verdict"]))
            continue
        parts.append(pd.DataFrame({"family_key": v["family_key"], "label": v["label"],
                                   "slope": T.slope_texts(v), "verdict": v["verdict"]}))
    m = parts[0].merge(parts[1], on=["family_key", "label"], how="outer", suffixes=("_A", "_B"),
                       sort=True)
    if m.empty:
        return pd.DataFrame(columns=cols)

    def diff(r: pd.Series) -> str:
        if pd.isna(r["verdict_A"]):
            return "only in B"
        if pd.isna(r["verdict_B"]):
            return "only in A"
        return "" if r["verdict_A"] == r["verdict_B"] else (
            f"verdict {r['verdict_A']} -> {r['verdict_B']}")

    return pd.DataFrame({
        "task family": m["family_key"].map(T.family_title), "learner": m["label"],
        "slope A": m["slope_A"].fillna("-"), "slope B": m["slope_B"].fillna("-"),
        "verdict A": m["verdict_A"].fillna("-"), "verdict B": m["verdict_B"].fillna("-"),
        "difference": [diff(r) for _, r in m.iterrows()]})[cols]


def compare_runs(run_a: str | Path, run_b: str | Path, *, n_boot: int = 1000,
                 seed: int = 0) -> Comparison:
    """Analyse both runs (each with its own eps) and build the side-by-side tables."""
    a = analyse_run(run_a, n_boot=n_boot, seed=seed)
    b = analyse_run(run_b, n_boot=n_boot, seed=seed)
    return Comparison(a, b, exponent_comparison(a, b), verdict_comparison(a, b))


def _header(c: Comparison) -> list[str]:
    lines = [f"A = {c.a.run_dir} ({c.a.eps.text()}, {c.a.n_ok} ok records)",
             f"B = {c.b.run_dir} ({c.b.eps.text()}, {c.b.n_ok} ok records)"]
    if c.a.eps.text() != c.b.eps.text():
        lines.append("Note: the runs use different eps; their n* and beta are not comparable.")
    lines.append(f"{c.n_differences} differences marked.")
    return lines


#: key columns of each table (the rest is printed as "column: value" in the vertical layout)
KEYS = {"Verdicts": ["task family", "learner"], "Exponents": ["task", "learner"]}


def _natural_width(df: pd.DataFrame) -> int:
    """Characters a one-line-per-row table of ``df`` needs (cells, padding and borders)."""
    widths = [max([len(str(c)), *(len(str(v)) for v in df[c])]) for c in df.columns]
    return sum(widths) + 3 * len(widths) + 1


def _print_vertical(console: Console, title: str, df: pd.DataFrame) -> None:
    """One block per row: the keys and the difference on the first line, then the values."""
    console.print(f"[bold]{title}: A vs B[/]")
    for _, r in df.iterrows():
        head = " / ".join(str(r[k]) for k in KEYS[title])
        diff = f"  [bold yellow]{r['difference']}[/]" if r["difference"] else ""
        console.print(f"{head}{diff}", highlight=False)
        rest = [c for c in df.columns if c not in KEYS[title] and c != "difference"]
        for run in ("A", "B"):
            cells = [f"{c.removesuffix(' ' + run)} {r[c] or '-'}" for c in rest
                     if c.endswith(" " + run)]
            if run == "B":
                cells += [f"{c} {r[c]}" for c in rest if not c.endswith((" A", " B"))
                          and str(r[c]) != ""]
            console.print(f"    {run}: " + "; ".join(cells), highlight=False)


def print_comparison(c: Comparison, console: Console | None = None) -> None:
    """The two side-by-side tables in the terminal; differences in bold.  A table wider than
    the terminal is printed vertically (one block per row) instead of in squeezed columns."""
    console = console or Console()
    for line in _header(c):
        console.print(line, highlight=False)
    for title, df in (("Verdicts", c.verdicts), ("Exponents", c.exponents)):
        if df.empty:
            console.print(f"{title}: none in either run")
            continue
        df, notes = T.footnote_reasons(df)
        if _natural_width(df) > console.width:
            _print_vertical(console, title, df)
        else:
            shown = df.copy()
            changed = shown["difference"] != ""
            shown.loc[changed, "difference"] = ("[bold yellow]" + shown.loc[changed, "difference"]
                                                + "[/]")
            console.print(rich_table(shown, f"{title}: A vs B"))
        if notes:
            console.print(T.footnote_text(notes))


def comparison_markdown(c: Comparison) -> str:
    """The comparison as Markdown: changed rows' B values and difference in bold."""
    out = ["# hierbench compare", "", *(f"- {line}" for line in _header(c))]
    for title, df, changed_cols in (
            ("Verdicts", c.verdicts, ["slope B", "verdict B", "difference"]),
            ("Exponents", c.exponents, ["beta B", "verdict B", "difference"])):
        out += ["", f"## {title}", ""]
        df, notes = T.footnote_reasons(df)
        df = df.copy()
        for col in changed_cols:
            mask = (df["difference"] != "") & (df[col].astype(str) != "")
            df.loc[mask, col] = "**" + df.loc[mask, col].astype(str) + "**"
        out.append(md_table(df))
        if notes:
            out += ["", T.footnote_text(notes)]
    return "\n".join(out) + "\n"
