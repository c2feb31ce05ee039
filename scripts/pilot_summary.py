"""Summarise a pilot run folder: per (task, learner, d) the per-seed first confirmed pass, the
median error at each n, fit cost, and how many net fits ended on their step budget.

    python scripts/pilot_summary.py runs/pilot_quick
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pandas as pd


def load(folder: str) -> pd.DataFrame:
    if not Path(folder, "results.sqlite").is_file():
        sys.exit(f"{folder}: not a run folder (no results.sqlite)")
    con = sqlite3.connect(f"file:{folder}/results.sqlite?mode=ro", uri=True)
    df = pd.read_sql("select task_label, learner, label, d, n, seed, status, reason, test_error, "
                     "fit_wall_s, top_share, fit_info from records", con)
    return df


def main(folder: str) -> None:
    df = load(folder)
    print(df.groupby(["status"]).size().to_string())
    ok = df[df.status == "ok"].copy()
    ok["eps"] = 0.5 * ok.top_share
    ok["ratio"] = ok.test_error / ok.eps
    ok["budget"] = ok.fit_info.map(lambda s: bool(json.loads(s or "{}").get("budget_exhausted")))
    cost = ok.groupby("label").fit_wall_s.agg(["count", "sum", "max"]).round(1)
    print("\nfit wall seconds per learner:\n", cost.to_string())
    print("\nper task: total fit seconds", ok.groupby("task_label").fit_wall_s.sum().round(0)
          .to_string())
    nets = ok[ok.fit_info.str.contains("budget_exhausted", na=False)]
    if len(nets):
        print("\nnet fits ended on the budget (fraction):")
        print(nets.groupby(["label"]).budget.mean().round(2).to_string())
    med = ok.groupby(["task_label", "label", "d", "n"]).ratio.median().unstack("n")
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    print("\nmedian error / eps (<= 1 passes):\n", med.round(2).to_string())
    tm = ok.groupby(["task_label", "label", "d", "n"]).fit_wall_s.median().unstack("n")
    print("\nmedian fit wall seconds:\n", tm.round(1).to_string())
    bad = df[df.status.isin(["failed", "timeout"])]
    if len(bad):
        print("\nfailed/timeout:\n", bad[["task_label", "label", "d", "n", "seed", "status",
                                         "reason"]].to_string())


if __name__ == "__main__":
    main(sys.argv[1])
