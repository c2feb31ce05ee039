"""The d^omega(1) verdict per learner, and the paired kernel-minus-deep contrast (the headline).

A *family* is the set of task configurations with the same task name and the same parameters
except the index parameter named in ``task_info["index_param"]`` (bfc depth L, multi_index degree
p, hier_poly degree k q, staircase D).  For one learner, beta_j is its exponent at index value
I_j (:func:`harness.analysis.exponents.exponents`), over the index values where beta is estimable
(an estimate or a bound).  Growth of beta per unit of index (docs/metrics.md, "Verdict"):

    s = sum_j v_j beta_j,   v_j = (I_j - mean I) / sum_k (I_k - mean I)^2

(the least-squares slope; with two index values (beta_top - beta_bottom) / (I_top - I_bottom)),
se(s) = sqrt(sum_j v_j^2 se_j^2) (different index values use different teachers, so the betas are
independent), replicates s_b = sum_j v_j beta_{j,b}, and a studentised bootstrap interval
[lo, hi] (:mod:`harness.analysis.intervals`).  A beta that is a bound makes s a bound in the
direction of sign(v_j) x its own (:func:`combine_bounds`).

The rule is symmetric around ONE threshold m = ``min_growth`` (default 0.5 per unit of index:
half the growth of a kernel whose beta equals the degree):

* **grows**: lo > m (and s is exact or a lower bound);
* **bounded**: hi < m (and s is exact or an upper bound);
* **not enough evidence**: otherwise (the interval contains m, a bound points the wrong way,
  fewer than two index values with an estimable beta); ``reason`` says which.

Contrast (headline): for each non-hierarchical learner A and the reference end-to-end deep
learner R of the run (the spec's ``verdict.reference``, by default the first learner of family
"hierarchical" in the spec's order), per family:

    Delta = s_A - s_R,   se = sqrt(se(s_A)^2 + se(s_R)^2),   Delta_b = s_{A,b} - s_{R,b},

where replicate b of A and of R resamples the same seeds (teachers) at every (task, d): the
bootstrap is paired by teacher.  Same rule around the same m: **separation** (lo > m: A's beta
grows faster than R's by more than m per unit of index), **no separation** (hi < m), or **not
enough evidence**.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from harness.analysis.core import combine_bounds
from harness.analysis.intervals import t_interval
from learners.base import Family

MIN_GROWTH = 0.5
CODE = {"estimate": 0.0, "lower bound": 1.0, "upper bound": -1.0}
SLOPE_KIND = {0.0: "exact", 1.0: "lower bound", -1.0: "upper bound"}
EXPECTED = {Family.NON_HIERARCHICAL: "grows", Family.HIERARCHICAL: "bounded"}
VERDICT_COLUMNS = [
    "family_key", "task", "index_param", "label", "learner", "family", "indices", "betas",
    "slope", "slope_lo", "slope_hi", "slope_kind", "slope_se", "delta", "delta_lo", "delta_hi",
    "verdict", "reason", "expected", "min_growth",
]
CONTRAST_COLUMNS = [
    "family_key", "task", "index_param", "label", "learner", "family", "reference", "indices",
    "growth", "growth_lo", "growth_hi", "reference_growth", "reference_lo", "reference_hi",
    "difference", "diff_lo", "diff_hi", "diff_kind", "verdict", "reason", "min_growth",
]


class Verdict(StrEnum):
    GROWS = "grows"
    BOUNDED = "bounded"
    UNDECIDED = "not enough evidence"


class ContrastVerdict(StrEnum):
    SEPARATION = "separation"
    NO_SEPARATION = "no separation"
    UNDECIDED = "not enough evidence"


@dataclass
class Growth:
    """s with its standard error, replicates (B,), their standard errors and bound direction."""

    s: float
    se: float
    reps: np.ndarray
    se_reps: np.ndarray
    kind: float
    n_index: int
    note: str = ""


def _family_rows(exp: pd.DataFrame) -> pd.DataFrame:
    if exp.empty or "index_param" not in exp:
        return exp.iloc[0:0]
    idx = pd.to_numeric(exp["hierarchy_index"], errors="coerce")
    fam = exp[exp["index_param"].notna() & idx.notna()].copy()
    fam["_i"] = pd.to_numeric(fam["hierarchy_index"])
    return fam


def growth(g: pd.DataFrame) -> Growth:
    """Growth of beta per unit of index of one learner over one family (rows of ``exponents``)."""
    use = g[g["beta_kind"].isin(list(CODE))].sort_values("_i").drop_duplicates("_i")
    if g["_i"].nunique() < 2:
        return Growth(np.nan, np.nan, np.zeros(0), np.zeros(0), np.nan, 1,
                      "one index value in the run: no depth/degree sweep")
    if len(use) < 2:
        return Growth(np.nan, np.nan, np.zeros(0), np.zeros(0), np.nan, len(use),
                      f"beta estimable at {len(use)} index value(s); need 2")
    x = use["_i"].to_numpy(float)
    v = (x - x.mean()) / np.sum((x - x.mean()) ** 2)
    beta = use["beta"].to_numpy(float)
    m = min(len(b) for b in use["beta_boot"])
    reps = np.column_stack([np.asarray(b, float)[:m] for b in use["beta_boot"]])
    se = np.array([_num(r.get("beta_se", np.nan)) for _, r in use.iterrows()])
    se_b = np.column_stack([_se_boot(r, m) for _, r in use.iterrows()])
    kinds = use["beta_kind"].map(CODE).to_numpy(float)
    se = np.where(kinds != 0, 0.0, se)  # a bound has no sampling spread
    se_b = np.where(kinds[None, :] != 0, 0.0, se_b)
    return Growth(float(v @ beta), float(np.sqrt(np.sum(v**2 * se**2))), reps @ v,
                  np.sqrt((se_b**2) @ (v**2)), combine_bounds(kinds, v), len(use))


def _num(v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return np.nan
    return v


def _se_boot(r: pd.Series, m: int) -> np.ndarray:
    v = r.get("beta_se_boot")
    if isinstance(v, np.ndarray) or isinstance(v, list):
        return np.asarray(v, float)[:m]
    return np.full(m, np.nan)


def decide(s: float, lo: float, hi: float, kind: float, min_growth: float = MIN_GROWTH,
           words: tuple[str, str, str] = tuple(Verdict)) -> tuple[str, str]:
    """The symmetric rule around ``min_growth`` for a slope ``s`` with CI [lo, hi] and bound
    direction ``kind`` (0 exact, +1 lower bound, -1 upper bound, NaN indeterminate).

    ``words`` = (above, below, undecided) names the outcomes (per learner or contrast)."""
    above, below, undecided = words
    m = f"{min_growth:g}"
    if np.isnan(kind):
        return undecided, "bounded betas pull the slope both ways"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return undecided, "no bootstrap interval"
    ci = f"{s:.2f}, CI [{lo:.2f}, {hi:.2f}]"
    if lo > min_growth:
        if kind in (0.0, 1.0):
            return above, f"{ci} lies above {m}"
        return undecided, f"{ci} lies above {m} but the slope is an upper bound"
    if hi < min_growth:
        if kind in (0.0, -1.0):
            return below, f"{ci} lies below {m}"
        return undecided, f"{ci} lies below {m} but the slope is a lower bound"
    return undecided, f"{ci} contains {m}"


def _interval(gr: Growth, ci: float) -> tuple[float, float]:
    lo, hi, _ = t_interval(gr.s, gr.se, gr.reps, gr.se_reps, ci)
    return lo, hi


def verdicts(exp: pd.DataFrame, min_growth: float = MIN_GROWTH, ci: float = 0.95) -> pd.DataFrame:
    """One verdict per (family, learner label); see the module docstring for the exact rule."""
    fam = _family_rows(exp)
    rows = [_verdict_row(g.sort_values("_i"), min_growth, ci)
            for _, g in fam.groupby(["family_key", "label"], sort=True)]
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


def _meta(g: pd.DataFrame) -> dict:
    first = g.iloc[0]
    return {"family_key": first["family_key"], "task": first["task"],
            "index_param": first["index_param"], "label": first["label"],
            "learner": first["learner"], "family": first["family"],
            "indices": ",".join(f"{i:g}" for i in sorted(g["_i"].unique()))}


def _verdict_row(g: pd.DataFrame, min_growth: float, ci: float) -> dict:
    row = _meta(g)
    row.update(betas="; ".join(f"{ip}={i:g}: {t}" for ip, i, t in
                               zip(g["index_param"], g["_i"], g["beta_text"], strict=True)),
               expected=EXPECTED.get(row["family"], ""), min_growth=min_growth)
    gr = growth(g)
    if gr.note:
        row.update(verdict=Verdict.UNDECIDED.value, reason=gr.note)
        return row
    lo, hi = _interval(gr, ci)
    use = g[g["beta_kind"].isin(list(CODE))].drop_duplicates("_i")
    top, bottom = use.iloc[-1], use.iloc[0]
    d_reps = np.asarray(top["beta_boot"], float) - np.asarray(bottom["beta_boot"], float)
    d_se = np.hypot(_num(top.get("beta_se")), _num(bottom.get("beta_se")))
    dlo, dhi, _ = t_interval(float(top["beta"] - bottom["beta"]), d_se, d_reps,
                             np.hypot(_se_boot(top, len(d_reps)), _se_boot(bottom, len(d_reps))),
                             ci)
    row.update(slope=gr.s, slope_lo=lo, slope_hi=hi, slope_se=gr.se,
               slope_kind=SLOPE_KIND.get(gr.kind, "indeterminate"),
               delta=float(top["beta"] - bottom["beta"]), delta_lo=dlo, delta_hi=dhi)
    row["verdict"], row["reason"] = decide(gr.s, lo, hi, gr.kind, min_growth)
    return row


def reference_label(exp: pd.DataFrame, spec: dict | None = None) -> str | None:
    """The reference end-to-end deep learner: ``spec["verdict"]["reference"]`` when given, else
    the first learner of family "hierarchical" in the spec's learner order (label order when
    the spec is missing); None when the run has no such learner."""
    spec = spec or {}
    named = (spec.get("verdict") or {}).get("reference")
    if named:
        return str(named)
    if exp.empty:
        return None
    deep = exp.loc[exp["family"] == Family.HIERARCHICAL, "label"].unique().tolist()
    order = [lr.get("label") or lr.get("name") for lr in spec.get("learners") or []]
    for label in order:
        if label in deep:
            return label
    return sorted(deep)[0] if deep else None


def contrast(exp: pd.DataFrame, reference: str | None, min_growth: float = MIN_GROWTH,
             ci: float = 0.95) -> pd.DataFrame:
    """The paired contrast: one row per (family, non-hierarchical learner); module docstring."""
    fam = _family_rows(exp)
    rows = []
    for _key, f in fam.groupby("family_key", sort=True):
        if f["_i"].nunique() < 2:
            continue
        ref = f[f["label"] == reference]
        ref_gr = growth(ref) if len(ref) else None
        for _label, g in f[f["family"] == Family.NON_HIERARCHICAL].groupby("label", sort=True):
            rows.append(_contrast_row(g, ref_gr, reference, min_growth, ci))
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def _contrast_row(g: pd.DataFrame, ref: Growth | None, reference: str | None,
                  min_growth: float, ci: float) -> dict:
    row = _meta(g)
    row.update(reference=reference or "", min_growth=min_growth)
    gr = growth(g)
    if not gr.note:
        row["growth"] = gr.s
        row["growth_lo"], row["growth_hi"] = _interval(gr, ci)
    if ref is not None and not ref.note:
        row["reference_growth"] = ref.s
        row["reference_lo"], row["reference_hi"] = _interval(ref, ci)
    why = ("no reference end-to-end deep learner in the run" if reference is None else
           f"reference {reference} not in this family" if ref is None else
           f"{reference}: {ref.note}" if ref.note else
           f"{row['label']}: {gr.note}" if gr.note else "")
    if why:
        row.update(verdict=ContrastVerdict.UNDECIDED.value, reason=why)
        return row
    m = min(len(gr.reps), len(ref.reps))
    diff = gr.s - ref.s
    lo, hi, _ = t_interval(diff, float(np.hypot(gr.se, ref.se)), gr.reps[:m] - ref.reps[:m],
                           np.hypot(gr.se_reps[:m], ref.se_reps[:m]), ci)
    kind = combine_bounds(np.array([gr.kind, ref.kind]), np.array([1.0, -1.0]))
    row.update(difference=diff, diff_lo=lo, diff_hi=hi,
               diff_kind=SLOPE_KIND.get(kind, "indeterminate"))
    row["verdict"], row["reason"] = decide(diff, lo, hi, kind, min_growth,
                                           words=tuple(ContrastVerdict))
    return row
