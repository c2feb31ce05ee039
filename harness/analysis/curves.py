"""Learning curves, every metric's curve, error at a fixed n, and the table of failures.

Implements docs/metrics.md exactly: the test error is the normalised MSE stored per record; a
learning curve is its median and inter-quartile range over seeds per (task, d, learner, n); the
metric curves give the same summary for every registered metric (:mod:`harness.store.metrics`).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from harness.analysis.core import CURVE_KEYS, cell_kind
from harness.store import METRICS, STATUSES, Status

META = ["task", "learner", "family", "hierarchy_index"]
CURVE_COLUMNS = [
    *CURVE_KEYS, "n", *META, "median", "q25", "q75", "n_ok", "n_failed", "n_timeout",
    "n_skipped", "wall_median", "cpu_median", "few_seeds",
]


def learning_curves(df: pd.DataFrame) -> pd.DataFrame:
    """Median and inter-quartile range of the test error over seeds, per (task, d, learner, n).

    Only ``ok`` records carry an error; ``median``, ``q25``, ``q75`` are the 50/25/75 % quantiles
    (linear interpolation) of ``test_error`` over the ok seeds.  ``n_failed``, ``n_timeout`` and
    ``n_skipped`` count the other records of the same point, so no outcome disappears.
    ``wall_median`` / ``cpu_median``: median fit wall / CPU seconds over the ok seeds.
    ``few_seeds``: the median is over fewer than half the curve's seeds (``n_ok`` < S / 2, S the
    most records the curve has at one n; every seed has a record at every n it reached, skipped
    or not).  Under the adaptive search these are a fast learner's largest n, where the seeds
    that passed twice were stopped and only the slowest still run: the curve can rise there.
    """
    if df.empty:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    d = df.assign(_kind=df["status"].astype(str))
    d["_err"] = pd.to_numeric(d["test_error"], errors="coerce").where(d["_kind"] == Status.OK)
    d["_wall"] = pd.to_numeric(d["fit_wall_s"], errors="coerce").where(d["_kind"] == Status.OK)
    d["_cpu"] = pd.to_numeric(d["fit_cpu_s"], errors="coerce").where(d["_kind"] == Status.OK)
    for s in STATUSES:
        d[f"n_{s}"] = (d["_kind"] == s).astype(int)
    grp = d.groupby([*CURVE_KEYS, "n"], sort=True, dropna=False)
    out = grp.agg(
        task=("task", "first"), learner=("learner", "first"), family=("family", "first"),
        hierarchy_index=("hierarchy_index", "first"), median=("_err", "median"),
        n_ok=("n_ok", "sum"), n_failed=("n_failed", "sum"), n_timeout=("n_timeout", "sum"),
        n_skipped=("n_skipped", "sum"), wall_median=("_wall", "median"),
        cpu_median=("_cpu", "median"),
    )
    out["q25"] = grp["_err"].quantile(0.25)
    out["q75"] = grp["_err"].quantile(0.75)
    out = out.reset_index()
    records = out[["n_ok", "n_failed", "n_timeout", "n_skipped"]].sum(axis=1)
    seeds = records.groupby([out[k] for k in CURVE_KEYS], dropna=False).transform("max")
    out["few_seeds"] = out["n_ok"] < seeds / 2
    return out[CURVE_COLUMNS]


METRIC_CURVE_COLUMNS = [*CURVE_KEYS, "n", "metric", "direction", "on", "median", "q25", "q75",
                        "n_values"]


def metric_curves(df: pd.DataFrame) -> pd.DataFrame:
    """Every registered metric over seeds, per (task, d, learner, n): one row per metric.

    ``median``, ``q25``, ``q75``: the 50/25/75 % quantiles (linear interpolation) of the metric's
    values over the ok seeds that have one (``n_values``; a metric registered after a job ran, or
    not defined for its task, has none); ``direction`` (lower / higher is better) and ``on`` (test /
    train set) come from the registry.  Points where a metric has no value are left out.
    """
    names = [m for m in METRICS if m in df]
    if df.empty or not names:
        return pd.DataFrame(columns=METRIC_CURVE_COLUMNS)
    ok = df[df["status"] == Status.OK]
    long = ok.melt(id_vars=[*CURVE_KEYS, "n"], value_vars=names, var_name="metric",
                   value_name="value")
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    long = long[np.isfinite(long["value"])]
    if long.empty:
        return pd.DataFrame(columns=METRIC_CURVE_COLUMNS)
    long["metric"] = pd.Categorical(long["metric"], categories=names, ordered=True)  # their order
    grp = long.groupby([*CURVE_KEYS, "n", "metric"], sort=True, observed=True)["value"]
    out = pd.DataFrame({"median": grp.median(), "q25": grp.quantile(0.25),
                        "q75": grp.quantile(0.75), "n_values": grp.size()}).reset_index()
    out["metric"] = out["metric"].astype(str)
    out["direction"] = out["metric"].map(lambda m: str(METRICS[m].direction))
    out["on"] = out["metric"].map(lambda m: str(METRICS[m].on))
    return out.reset_index(drop=True)[METRIC_CURVE_COLUMNS]


def error_at_fixed_n(curves: pd.DataFrame) -> pd.DataFrame:
    """Median test error at a fixed n per (task_label, d, label), shown beside n*.

    The fixed n of a (task_label, d) is the largest n at which every learner of that task and d
    has at least one ok seed (``common = True``).  When the learners share no such n, each learner
    is shown at its own largest ok n (``common = False``).  ``n_fixed_ok``: the ok seeds the median
    is over.  Under the adaptive n-search these can be few: a seed stopped after two passes
    (``eps_reached``) has no record there, so the median is over the seeds still running, the
    slowest ones; the report shows the count beside the fixed n.
    """
    cols = [*CURVE_KEYS, "n_fixed", "err_fixed", "err_fixed_q25", "err_fixed_q75", "common",
            "n_fixed_ok"]
    ok = curves[curves["n_ok"] > 0] if len(curves) else curves
    if ok.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (task_label, d), g in ok.groupby(["task_label", "d"], sort=True):
        sets = [set(x) for _, x in g.groupby("label")["n"]]
        shared = set.intersection(*sets)
        for label, h in g.groupby("label", sort=True):
            n = max(shared) if shared else h["n"].max()
            r = h[h["n"] == n].iloc[0]
            rows.append((task_label, d, label, n, r["median"], r["q25"], r["q75"], bool(shared),
                         int(r["n_ok"])))
    return pd.DataFrame(rows, columns=cols)


def _reason_pattern(reason: str) -> str:
    """The reason with numbers replaced by '#', so that equal causes group together."""
    return re.sub(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?", "#", reason)[:160]


def failures(df: pd.DataFrame) -> pd.DataFrame:
    """Every non-ok record, grouped by (task_label, label, status, reason pattern).

    ``kind`` separates adaptive skips (eps already reached: passing, not a failure) and
    resource-model skips (censoring) from other outcomes.  Columns: count, the d values, the n
    range, the seeds affected and one example reason in full.
    """
    cols = ["task_label", "label", "status", "kind", "reason", "count", "d_values", "n_min",
            "n_max", "n_seeds", "example"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    bad = df[df["status"] != Status.OK].copy()
    if bad.empty:
        return pd.DataFrame(columns=cols)
    bad["kind"] = cell_kind(bad)
    bad["example"] = bad["reason"].fillna("(no reason given)").astype(str)
    bad["reason"] = bad["example"].map(_reason_pattern)
    out = bad.groupby(["task_label", "label", "status", "kind", "reason"], sort=True).agg(
        count=("n", "size"),
        d_values=("d", lambda x: ",".join(str(int(v)) for v in sorted(set(x)))),
        n_min=("n", "min"), n_max=("n", "max"), n_seeds=("seed", "nunique"),
        example=("example", "first"),
    )
    return out.reset_index()[cols]


def paired_errors(df: pd.DataFrame) -> pd.DataFrame:
    """Paired comparison of learners on the shared test sets, per (task_label, d, pair).

    Two learners of the same (task_label, d) and seed were scored on the same test set.  At the
    largest n where both have ok records on at least one shared seed, the per-seed statistic is
    ``log10(err_A / err_B)``; the table gives its median over the shared seeds, how many seeds
    A wins (lower error), and the two-sided Wilcoxon signed-rank p-value (NaN below 2 seeds or
    when every difference is zero).
    """
    cols = ["task_label", "d", "label_a", "label_b", "n", "n_seeds", "median_log10_ratio",
            "a_wins", "p_value"]
    ok = df[df["status"] == Status.OK] if len(df) else df
    rows = []
    for (task_label, d), g in ok.groupby(["task_label", "d"], sort=True):
        err = g.pivot_table(index=["n", "seed"], columns="label", values="test_error",
                            aggfunc="first")
        labels = sorted(err.columns)
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                both = err[[a, b]].dropna()
                both = both[(both[a] > 0) & (both[b] > 0)]
                if both.empty:
                    continue
                n = both.index.get_level_values("n").max()
                pair = both.xs(n, level="n")
                lr = np.log10(pair[a].to_numpy(float) / pair[b].to_numpy(float))
                rows.append((task_label, d, a, b, n, len(lr), float(np.median(lr)),
                             int(np.sum(lr < 0)), _wilcoxon(lr)))
    return pd.DataFrame(rows, columns=cols)


def _wilcoxon(x: np.ndarray) -> float:
    from scipy.stats import wilcoxon

    if len(x) < 2 or np.all(x == 0):
        return np.nan
    try:
        return float(wilcoxon(x).pvalue)
    except ValueError:
        return np.nan
