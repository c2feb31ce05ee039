"""Print the README's "Results" table from a finished run's report tables (a maintainer's tool).

    python scripts/readme_results.py runs/quick

Reads RUN/report/tables/sample_complexity.csv and exponents.csv (written by ``hierbench report``)
and prints, after the run's provenance line, the contrast table (tables/contrast_table.csv: each
non-hierarchical learner's growth of beta per unit of index minus the reference deep learner's),
then one Markdown row per (task, learner): n*(eps) at each d as the report states it (``> n``
censored, ``<= n`` reached at the grid's first point), beta with its 95 % CI (censored maximum
likelihood), the finite-d theory slope over the run's d values and the asymptotic exponent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def results_table(run_dir: Path) -> str:
    tables = run_dir / "report" / "tables"
    # the *_text columns are the report's wording: read as text, or pandas turns "151" into 151.0
    sc = pd.read_csv(tables / "sample_complexity.csv", dtype={"nstar_text": str})
    ex = pd.read_csv(tables / "exponents.csv", dtype={"beta_text": str}).set_index(
        ["task_label", "label"])
    ds = sorted(sc["d"].unique())
    head = ["task", "learner", *[f"n* d={d}" for d in ds], "beta [95% CI]",
            "finite-d theory slope", "asymptotic"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, label), g in sc.groupby(["task_label", "label"], sort=True):
        by_d = dict(zip(g["d"], g["nstar_text"], strict=True))
        e = ex.loc[(task, label)] if (task, label) in ex.index else None
        beta = "" if e is None else str(e["beta_text"])
        slope = e.get("theory_slope") if e is not None else None
        slope = "" if slope is None or pd.isna(slope) else f"{float(slope):.2f}"
        asym = e.get("theory_asymptotic") if e is not None else None
        asym = "" if asym is None or pd.isna(asym) else f"{float(asym):g}"
        row = [task, label, *[str(by_d.get(d, "")) for d in ds], beta, slope, asym]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def contrast_markdown(run_dir: Path) -> str:
    path = run_dir / "report" / "tables" / "contrast_table.csv"
    if not path.exists():
        return "(no contrast table)"
    c = pd.read_csv(path, dtype=str, keep_default_na=False)
    lines = ["| " + " | ".join(c.columns) + " |", "|" + "---|" * len(c.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in c.itertuples(index=False)]
    return "\n".join(lines)


def provenance_line(run_dir: Path) -> str:
    p = json.loads((run_dir / "provenance.json").read_text())
    return (f"commit {p.get('git_commit', '?')[:7]}, started {p.get('started_at')}, finished "
            f"{p.get('finished_at')}, executor {p.get('executor')}, workers {p.get('workers')} x "
            f"{p.get('threads_per_job')} threads")


if __name__ == "__main__":
    run = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/quick")
    if not (run / "results.sqlite").is_file():
        sys.exit(f"{run}: not a run folder (no results.sqlite)")
    print(provenance_line(run) if (run / "provenance.json").is_file() else
          "(no provenance.json in the run folder)")
    print()
    print(contrast_markdown(run))
    print()
    print(results_table(run))
