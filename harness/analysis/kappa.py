"""The field's own view: test error against kappa = log n / log d.

Sample sizes n = d^kappa are the scale on which kernel ridge regression on Gaussian (or cube)
inputs learns one polynomial degree after another (Ghorbani, Mei, Misiakiewicz & Montanari 2019;
Dandi et al. 2025 plot depth's advantage on this axis): a kernel fits degree q once
n >> N_q(d), the number of polynomials of degree <= q in d variables, i.e. once

    kappa > kappa_q(d) = log N_q(d) / log d,    N_q(d) = C(d + q, q)  (cube: sum_{k<=q} C(d, k)).

At finite d, kappa_q(d) differs from q (for d = 8, kappa_2 = 1.83, kappa_4 = 2.98).  A learner
whose error drops before the kernel threshold of the degree that carries the target's top level
beats every kernel at that d.

Tables: :func:`kappa_curves` (the learning curves on the kappa axis) and :func:`kappa_thresholds`
(kappa_q per task configuration and d, from :func:`harness.analysis.theory.kernel_thresholds`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.theory import kernel_thresholds

KAPPA_COLUMNS = ["task_label", "task", "d", "label", "family", "n", "kappa", "median", "q25",
                 "q75", "n_ok", "few_seeds", "threshold"]
THRESHOLD_COLUMNS = ["task_label", "task", "d", "q", "kappa_q"]


def kappa_curves(curves: pd.DataFrame, complexity: pd.DataFrame) -> pd.DataFrame:
    """Median test error and IQR over seeds against kappa = log n / log d, per curve and n.

    ``curves`` from :func:`harness.analysis.curves.learning_curves` (points with an ok seed);
    ``threshold``: the curve's eps threshold (median over its teachers) from ``complexity``.
    """
    if curves.empty:
        return pd.DataFrame(columns=KAPPA_COLUMNS)
    c = curves[(curves["n_ok"] > 0) & (curves["d"] > 1)].copy()
    c["kappa"] = np.log(c["n"].astype(float)) / np.log(c["d"].astype(float))
    if len(complexity):
        thr = complexity[["task_label", "d", "label", "threshold"]]
        c = c.merge(thr, on=["task_label", "d", "label"], how="left")
    else:
        c["threshold"] = np.nan
    return c[KAPPA_COLUMNS].reset_index(drop=True)


def kappa_thresholds(records: pd.DataFrame) -> pd.DataFrame:
    """kappa_q(d) for q = 1 .. degree per (task_label, d) of the run (docstring above)."""
    if records.empty:
        return pd.DataFrame(columns=THRESHOLD_COLUMNS)
    rows = []
    first = records.drop_duplicates(["task_label", "d"])
    for _, r in first.iterrows():
        for q, k in kernel_thresholds(r["task"], r["task_params"], r["task_info"], int(r["d"])):
            rows.append((r["task_label"], r["task"], int(r["d"]), q, k))
    return pd.DataFrame(rows, columns=THRESHOLD_COLUMNS).sort_values(
        ["task_label", "d", "q"]).reset_index(drop=True)
