"""Sample complexity n*(eps) and time-to-target t*(eps) per learning curve, with bootstrap draws.

Implements DESIGN.md's definitions exactly (see :mod:`harness.analysis_core` for the per-seed
matrices and the interpolation):

* n*(eps): smallest grid n whose median error ratio over seeds is <= 1, refined by log-log
  interpolation between the last failing and the first passing grid points; right-censored at
  ``n_reached`` (largest n with an ok record) when no grid point passes -- kept as a lower bound.
* t*(eps): median fit wall / CPU seconds over the ok seeds, interpolated in log-log at the same
  position as n*; at ``n_reached`` (a lower bound) when n* is censored.
* Bootstrap: seeds are resampled with replacement per (task_label, d), with the *same* draws for
  every learner of that task and d (the learners share seeds, hence test sets, so the replicates
  are paired across learners); medians, n* and t* are recomputed per replicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis_core import (
    CURVE_KEYS,
    CurveData,
    boot_medians,
    curve_data,
    nstar_from_medians,
    parse_eps,
    prepare,
    stable_rng,
    time_at_nstar,
)
from harness.analysis_curves import error_at_fixed_n, learning_curves

BOUND_TEXT = {0.0: "interpolated", 1.0: "censored (n* > value)",
              -1.0: "at grid minimum (n* <= value)"}
SC_META = ["task", "learner", "family", "hierarchy_index", "index_param", "family_key"]


@dataclass
class CurveEstimate:
    """n*, its bound direction and t* (wall, CPU) for B replicates of one learning curve."""

    nstar: np.ndarray
    bound: np.ndarray
    t_wall: np.ndarray
    t_cpu: np.ndarray


def estimate(cd: CurveData, idx: np.ndarray) -> CurveEstimate:
    """n* and t* of curve ``cd`` for seed resamples ``idx`` (B, S) of its rows."""
    med = boot_medians(cd.ratio, idx)
    ns = nstar_from_medians(med, cd.n, cd.n_reached)
    tw = time_at_nstar(boot_medians(cd.wall, idx), cd.n, ns, cd.n_reached)
    tc = time_at_nstar(boot_medians(cd.cpu, idx), cd.n, ns, cd.n_reached)
    return CurveEstimate(ns.nstar, ns.bound, tw, tc)


def curves_by_key(prep: pd.DataFrame) -> dict[tuple, CurveData]:
    """Curve matrices keyed by (task_label, d, label)."""
    return {key: curve_data(g) for key, g in prep.groupby(CURVE_KEYS, sort=True)}


def _identity(cd: CurveData) -> np.ndarray:
    return np.arange(len(cd.seeds))[None, :]


def sample_complexity(df: pd.DataFrame, eps=None) -> pd.DataFrame:
    """Point estimates of n*(eps) and t*(eps) per (task_label, d, label), with the fixed-n error.

    Columns: ``nstar``; ``bound`` (+1 censored: n* > nstar; -1 passes at the grid's first point:
    n* <= nstar; 0 interpolated) and its text ``nstar_kind``; ``n_reached``; ``censor_reason``;
    ``t_wall``, ``t_cpu`` (t*); ``n_seeds``; ``threshold`` (median over the curve's records of
    the error threshold: eps, or eps * top_share); and the median error at a fixed n (``n_fixed``,
    ``err_fixed``; see :func:`harness.analysis_curves.error_at_fixed_n`).
    """
    eps = parse_eps(eps)
    cols = [*CURVE_KEYS, *SC_META, "eps", "threshold", "nstar", "bound", "nstar_kind", "nstar_text",
            "n_reached", "censor_reason", "t_wall", "t_cpu", "n_seeds", "n_fixed", "err_fixed",
            "err_fixed_q25", "err_fixed_q75", "common"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    prep = prepare(df, eps)
    rows = []
    for key, g in prep.groupby(CURVE_KEYS, sort=True):
        cd = curve_data(g)
        est = estimate(cd, _identity(cd))
        first = g.iloc[0]
        bound = float(est.bound[0])
        rows.append({
            **dict(zip(CURVE_KEYS, key, strict=True)), **{m: first[m] for m in SC_META},
            "eps": eps.text(),
            "nstar": est.nstar[0], "bound": bound, "nstar_kind": BOUND_TEXT.get(bound, "no data"),
            "nstar_text": nstar_text(est.nstar[0], bound), "n_reached": cd.n_reached,
            "censor_reason": cd.censor_reason if bound == 1.0 else "",
            "t_wall": est.t_wall[0], "t_cpu": est.t_cpu[0], "n_seeds": len(cd.seeds),
            "threshold": float(np.nanmedian(g["threshold"])) if g["threshold"].notna().any()
            else np.nan,
        })
    out = pd.DataFrame(rows)
    fixed = error_at_fixed_n(learning_curves(df))
    out = out.merge(fixed, on=CURVE_KEYS, how="left")
    return out[cols]


def nstar_text(value: float, bound: float) -> str:
    """``1234``, ``> 4096`` (censored) or ``<= 64`` (passes at the grid's first point)."""
    if not np.isfinite(value):
        return "no data"
    prefix = {1.0: "> ", -1.0: "<= "}.get(bound, "")
    return f"{prefix}{value:.0f}" if value >= 100 else f"{prefix}{value:.3g}"


def bootstrap_curves(
    df: pd.DataFrame, eps=None, n_boot: int = 1000, seed: int = 0
) -> tuple[dict[tuple, CurveEstimate], dict[tuple, CurveEstimate], pd.DataFrame]:
    """Point estimates and ``n_boot`` paired bootstrap replicates of every curve.

    Returns ``(point, boot, prepared_records)``, both dicts keyed by (task_label, d, label).  The
    resample of a (task_label, d) is drawn from ``stable_rng(seed, task_label, d)`` over the union
    of its seeds, so results do not depend on which other curves are in the run.
    """
    prep = prepare(df, eps)
    point: dict[tuple, CurveEstimate] = {}
    boot: dict[tuple, CurveEstimate] = {}
    for (task_label, d), g in prep.groupby(["task_label", "d"], sort=True):
        seeds = np.sort(g["seed"].unique())
        rng = stable_rng(seed, task_label, d)
        idx = rng.integers(0, len(seeds), size=(int(n_boot), len(seeds)))
        for label, h in g.groupby("label", sort=True):
            cd = curve_data(h).rows(seeds)
            key = (task_label, d, label)
            point[key] = estimate(cd, _identity(cd))
            boot[key] = estimate(cd, idx)
    return point, boot, prep
