"""The d^omega(1) verdict: does beta grow with the depth/degree index of a task family?

A *family* is the set of task configurations with the same task name and the same parameters
except the index parameter named in ``task_info["index_param"]`` (bfc depth L, multi_index degree
p, hier_poly k*q, staircase D).  For each learner configuration (label), beta_j is its exponent at
index value I_j (from :func:`harness.analysis_exponents.exponents`).  The rule (DESIGN.md; stated
identically in docs/metrics.md and in the report):

* s = least-squares slope of beta against I over the index values with an estimable beta
  (with two index values, s = (beta_top - beta_bottom) / (I_top - I_bottom)); its CI is the
  percentile interval of s over the bootstrap replicates of the betas (fixed generator).
* Bounds: a beta that is a lower (upper) bound makes s a lower (upper) bound when it sits above
  (below) the mean index, as for any linear statistic (:func:`combine_bounds`).
* **grows**: the CI of s lies above 0 (lo > 0) and s is exact or a lower bound.
* **bounded**: the CI of s lies below ``min_growth`` (hi < min_growth, default 0.5 per unit of
  index, half the growth of a kernel whose beta equals the degree) and s is exact or an upper bound.
* **not enough evidence**: anything else, including fewer than two index values with an
  estimable beta; the ``reason`` column says which.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis_core import combine_bounds
from harness.analysis_exponents import _percentiles

MIN_GROWTH = 0.5
CODE = {"estimate": 0.0, "lower bound": 1.0, "upper bound": -1.0}
EXPECTED = {"non-hierarchical": "grows", "hierarchical": "bounded"}
VERDICT_COLUMNS = [
    "family_key", "task", "index_param", "label", "learner", "family", "indices", "betas",
    "slope", "slope_lo", "slope_hi", "slope_kind", "delta", "delta_lo", "delta_hi", "verdict",
    "reason", "expected",
]


def verdicts(exp: pd.DataFrame, min_growth: float = MIN_GROWTH, ci: float = 0.95) -> pd.DataFrame:
    """One verdict per (family, learner label); see the module docstring for the exact rule."""
    if exp.empty or "index_param" not in exp:
        return pd.DataFrame(columns=VERDICT_COLUMNS)
    idx = pd.to_numeric(exp["hierarchy_index"], errors="coerce")
    fam = exp[exp["index_param"].notna() & idx.notna()]
    rows = [
        _verdict_row(g.assign(_i=pd.to_numeric(g["hierarchy_index"])).sort_values("_i"),
                     min_growth, ci)
        for _, g in fam.groupby(["family_key", "label"], sort=True)
    ]
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


def _beta_list(g: pd.DataFrame) -> str:
    return "; ".join(f"{ip}={i:g}: {t}" for ip, i, t in
                     zip(g["index_param"], g["_i"], g["beta_text"], strict=True))


def _verdict_row(g: pd.DataFrame, min_growth: float, ci: float) -> dict:
    first = g.iloc[0]
    row = {"family_key": first["family_key"], "task": first["task"],
           "index_param": first["index_param"], "label": first["label"],
           "learner": first["learner"], "family": first["family"],
           "indices": ",".join(f"{i:g}" for i in g["_i"].unique()), "betas": _beta_list(g),
           "expected": EXPECTED.get(first["family"], "")}
    use = g[g["beta_kind"].isin(list(CODE))].drop_duplicates("_i")
    if g["_i"].nunique() < 2:
        row.update(verdict="not enough evidence",
                   reason="one index value in the run: no depth/degree sweep")
        return row
    if len(use) < 2:
        row.update(verdict="not enough evidence",
                   reason=f"beta estimable at {len(use)} index value(s); need 2")
        return row
    x = use["_i"].to_numpy(float)
    beta = use["beta"].to_numpy(float)
    bounds = use["beta_kind"].map(CODE).to_numpy(float)
    m = min(len(b) for b in use["beta_boot"])
    reps = np.column_stack([np.asarray(b, float)[:m] for b in use["beta_boot"]])
    v = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    s, (lo, hi) = float(v @ beta), _percentiles(reps @ v, ci)
    kind = combine_bounds(bounds, v)
    dlo, dhi = _percentiles(reps[:, -1] - reps[:, 0], ci)
    row.update(slope=s, slope_lo=lo, slope_hi=hi,
               slope_kind={0.0: "exact", 1.0: "lower bound", -1.0: "upper bound"}.get(
                   kind, "indeterminate"),
               delta=float(beta[-1] - beta[0]), delta_lo=dlo, delta_hi=dhi)
    row["verdict"], row["reason"] = decide(s, lo, hi, kind, min_growth)
    return row


def decide(s: float, lo: float, hi: float, kind: float, min_growth: float = MIN_GROWTH
           ) -> tuple[str, str]:
    """Apply the verdict rule to a slope ``s`` with CI [lo, hi] and bound direction ``kind``."""
    ci = f"slope {s:.2f}, CI [{lo:.2f}, {hi:.2f}]"
    if np.isfinite(lo) and lo > 0 and kind in (0.0, 1.0):
        return "grows", f"{ci} excludes 0 on the positive side"
    if np.isfinite(hi) and hi < min_growth and kind in (0.0, -1.0):
        return "bounded", f"{ci} lies below the meaningful growth {min_growth:g}"
    if np.isnan(kind):
        return "not enough evidence", f"{ci}; bounded betas pull the slope both ways"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "not enough evidence", "no bootstrap interval"
    if lo > 0:
        return "not enough evidence", f"{ci} but the slope is an upper bound"
    if hi < min_growth:
        return "not enough evidence", f"{ci} but the slope is a lower bound"
    return "not enough evidence", f"{ci} includes 0 and reaches {min_growth:g}"
