"""Scaling exponents beta (n* ~ d^beta) and gamma (t* ~ d^gamma) with bootstrap CIs.

Implements DESIGN.md exactly:

* beta = least-squares slope of log n* against log d over the d-grid of one (task_label, label);
  gamma likewise for t* (wall and CPU seconds).  With x_i = log d_i and y_i = log n*_i::

      beta = sum_i w_i y_i,   w_i = (x_i - mean x) / sum_k (x_k - mean x)^2

* CI: percentile interval of the slope over bootstrap replicates (seeds resampled with replacement
  per (task_label, d), medians, n* and the slope recomputed; fixed generator, so deterministic).
* Censoring: a right-censored n*_i (n* > value) is a lower bound; an n* at the grid's first point
  is an upper bound.  The slope is a linear statistic, so (:func:`combine_bounds`) it is a lower
  bound when every bounded point pulls the same way -- censored points at d above the mean log d,
  grid-minimum points below it -- and is then reported as "> value"; "< value" in the mirror case;
  "not estimable" when bounds pull both ways.
* Fewer than three d values with an n* (interpolated or bounded): "not estimable".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis_complexity import bootstrap_curves
from harness.analysis_core import combine_bounds, parse_eps

MIN_D = 3
KIND_TEXT = {0.0: "estimate", 1.0: "lower bound", -1.0: "upper bound"}
EXP_META = ["task", "task_label", "family_key", "index_param", "hierarchy_index", "learner",
            "label", "family"]


def fit_loglog(logd: np.ndarray, y: np.ndarray, bounds: np.ndarray, yboot: np.ndarray,
               ci: float = 0.95) -> dict:
    """Slope of ``y`` (log values) on ``logd`` with bound kind and bootstrap percentile CI.

    ``yboot`` (B, D) holds replicate log values; replicates with a missing value are dropped.
    """
    use = np.isfinite(y)
    k = len(np.unique(logd[use]))
    out = {"slope": np.nan, "intercept": np.nan, "lo": np.nan, "hi": np.nan,
           "kind": "not estimable", "n_d": k, "n_boot_used": 0, "note": "", "boot": np.zeros(0)}
    if k < MIN_D:
        out["note"] = f"{k} usable d value{'s' if k != 1 else ''} (need {MIN_D})"
        return out
    x = logd[use]
    w = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    slope = float(w @ y[use])
    reps = yboot[:, use] @ w  # NaN where a replicate lacks a value; kept for pairing
    lo, hi = _percentiles(reps, ci)
    kind = combine_bounds(bounds[use], w)
    out.update(slope=slope, intercept=float(y[use].mean() - slope * x.mean()), lo=lo, hi=hi,
               n_boot_used=int(np.isfinite(reps).sum()), boot=reps)
    if np.isnan(kind):
        b = bounds[use]
        out["note"] = ("censored at every d" if np.all(b == 1) else
                       "at the grid minimum at every d" if np.all(b == -1) else
                       "bounded points pull the slope both ways")
    else:
        out["kind"] = KIND_TEXT[kind]
        n_b = int(np.sum(bounds[use] != 0))
        out["note"] = f"{n_b} bounded point{'s' if n_b != 1 else ''}" if n_b else ""
    return out


def _percentiles(reps: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile interval of the finite replicates (NaN, NaN when there are none)."""
    reps = reps[np.isfinite(reps)]
    if len(reps) == 0:
        return np.nan, np.nan
    a = 100 * (1 - ci) / 2
    lo, hi = np.percentile(reps, [a, 100 - a])
    return float(lo), float(hi)


def slope_text(slope: float, lo: float, hi: float, kind: str, note: str = "") -> str:
    """``2.48 [2.40, 2.57]``, ``> 1.92 [1.85, 2.01]``, ``< ...`` or ``not estimable (...)``."""
    if kind == "not estimable" or not np.isfinite(slope):
        return f"not estimable ({note})" if note else "not estimable"
    prefix = {"lower bound": "> ", "upper bound": "< "}.get(kind, "")
    ci = f" [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else ""
    return f"{prefix}{slope:.2f}{ci}"


def _theory(info: dict, family: str) -> tuple[float, str]:
    th = (info or {}).get("theory_exponents") or {}
    text = "; ".join(f"{k}: {v:g}" for k, v in sorted(th.items()) if isinstance(v, (int, float)))
    val = th.get(family)
    return (float(val) if isinstance(val, (int, float)) else np.nan), text


def exponents(df: pd.DataFrame, eps=None, n_boot: int = 1000, seed: int = 0,
              ci: float = 0.95) -> pd.DataFrame:
    """beta and gamma (wall, CPU) per (task_label, label) with ``ci`` bootstrap intervals.

    One row per task configuration and learner configuration; the d values are those with records.
    Columns: ``beta``, ``beta_lo``, ``beta_hi``, ``beta_kind`` (estimate / lower bound /
    upper bound / not estimable), ``beta_text``, ``beta_note``, ``intercept`` (log n* at d = 1),
    the same for ``gamma_wall`` and ``gamma_cpu``, ``theory_beta`` (the task's predicted beta for
    the learner's family, NaN when none), ``theory`` (all predictions as text), ``n_censored``,
    ``n_at_min``, and ``beta_boot`` (the replicate slopes, used by :func:`verdicts`).
    """
    eps = parse_eps(eps)
    if df.empty:
        return pd.DataFrame(columns=[*EXP_META, "beta", "beta_kind", "beta_text", "beta_boot"])
    point, boot, prep = bootstrap_curves(df, eps, n_boot=n_boot, seed=seed)
    rows = []
    for (task_label, label), g in prep.groupby(["task_label", "label"], sort=True):
        ds = np.sort(g["d"].unique())
        keys = [(task_label, d, label) for d in ds]
        rows.append(_exponent_row(g, ds, [point[k] for k in keys], [boot[k] for k in keys],
                                  eps, ci))
    return pd.DataFrame(rows)


def _exponent_row(g: pd.DataFrame, ds: np.ndarray, pts: list, bts: list, eps, ci: float) -> dict:
    first = g.iloc[0]
    logd = np.log(ds.astype(float))
    bounds = np.array([p.bound[0] for p in pts])
    row = {m: first[m] for m in EXP_META}
    row.update(eps=eps.text(), d_values=",".join(str(int(d)) for d in ds),
               n_censored=int(np.sum(bounds == 1)), n_at_min=int(np.sum(bounds == -1)))
    for name, attr in (("beta", "nstar"), ("gamma_wall", "t_wall"), ("gamma_cpu", "t_cpu")):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(np.array([getattr(p, attr)[0] for p in pts], float))
            yb = np.log(np.column_stack([getattr(b, attr) for b in bts]).astype(float))
        y[~np.isfinite(y)] = np.nan
        f = fit_loglog(logd, y, bounds, yb, ci)
        row.update({name: f["slope"], f"{name}_lo": f["lo"], f"{name}_hi": f["hi"],
                    f"{name}_kind": f["kind"], f"{name}_note": f["note"],
                    f"{name}_text": slope_text(f["slope"], f["lo"], f["hi"], f["kind"], f["note"])})
        if name == "beta":
            row.update(intercept=f["intercept"], n_d=f["n_d"], beta_boot=f["boot"])
    row["theory_beta"], row["theory"] = _theory(first["task_info"], first["family"])
    return row


def paired_beta(exp: pd.DataFrame, ci: float = 0.95) -> pd.DataFrame:
    """Delta beta = beta_A - beta_B per task configuration and pair of learners (A < B by label).

    The replicates of A and B share their seed resamples (same seeds, hence same test sets), so
    the replicate differences give a paired bootstrap CI.  Bounds combine as in
    :func:`combine_bounds` (A's bound with weight +1, B's with weight -1).
    """
    cols = ["task_label", "label_a", "label_b", "delta_beta", "lo", "hi", "kind", "text"]
    ok = exp[exp["beta_kind"] != "not estimable"] if len(exp) else exp
    rows = []
    code = {v: k for k, v in KIND_TEXT.items()}
    for task_label, g in ok.groupby("task_label", sort=True):
        g = g.sort_values("label").reset_index(drop=True)
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                a, b = g.iloc[i], g.iloc[j]
                m = min(len(a["beta_boot"]), len(b["beta_boot"]))
                reps = a["beta_boot"][:m] - b["beta_boot"][:m]
                lo, hi = _percentiles(reps, ci)
                k = combine_bounds(np.array([code[a["beta_kind"]], code[b["beta_kind"]]]),
                                   np.array([1.0, -1.0]))
                kind = KIND_TEXT.get(k, "not estimable")
                delta = float(a["beta"] - b["beta"])
                note = "bounds pull both ways" if kind == "not estimable" else ""
                rows.append((task_label, a["label"], b["label"], delta, lo, hi, kind,
                             slope_text(delta, lo, hi, kind, note)))
    return pd.DataFrame(rows, columns=cols)
