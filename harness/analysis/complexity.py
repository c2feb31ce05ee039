"""Sample complexity n*(eps) and time-to-target t*(eps) per learning curve, with bootstrap draws.

Implements the definitions of docs/metrics.md exactly (see :mod:`harness.analysis.core` for the
per-seed matrices, the lucky-dip rule and the interpolation):

* n*(eps): smallest grid n whose median error ratio over seeds is <= 1 there and at the next grid
  point, refined by log-log interpolation between the last failing and the first passing grid
  points; right-censored at the largest failing point up to ``n_reached`` (largest n with an ok
  record) when no grid point qualifies -- kept as a lower bound.
* t*(eps): median fit wall / CPU seconds over the ok seeds, interpolated in log-log at the same
  position as n*; at ``n_reached`` (a lower bound) when n* is censored.
* Per seed (for the censored fits of :mod:`harness.analysis.exponents`): :func:`seed_intervals`
  gives each seed's n* as an interval of log n between its last failing and first passing grid
  point under the same lucky-dip rule (pass at n_j and at the next point the seed has), with
  t* likewise between the fit times at those two points.
* E_top uncertainty: where a task's E_top = top_share is a Monte Carlo estimate with standard
  error se (``task_info["top_share_se"]`` > 0; exact energies have se = 0) and eps is relative,
  the threshold eps * E_top is itself uncertain.  :func:`etop_range` recomputes n* with every
  record's threshold at eps * (E_top + 2 se) and eps * max(E_top - 2 se, E_top / 100): the
  interval [nstar_etop_lo, nstar_etop_hi] is the range of n* over E_top +- 2 se (a ~95 % range
  from the estimate's error alone).  Points skipped by the adaptive search after a pass carry
  the seed's last ratio forward, as for the point estimate, so where the search stopped early the
  upper end is a lower bound.
* Bootstrap: seeds are resampled with replacement per (task_label, d), with the *same* draws for
  every learner of that task and d (the learners share seeds, hence test sets, so the replicates
  are paired across learners); medians, n* and t* are recomputed per replicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.core import (
    CURVE_KEYS,
    CurveData,
    boot_medians,
    confirmed_pass,
    curve_data,
    nstar_from_medians,
    parse_eps,
    prepare,
    stable_rng,
    time_at_nstar,
)
from harness.analysis.curves import error_at_fixed_n, learning_curves

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
    ``err_fixed`` over ``n_fixed_ok`` ok seeds; see
    :func:`harness.analysis.curves.error_at_fixed_n`).
    """
    eps = parse_eps(eps)
    cols = [*CURVE_KEYS, *SC_META, "eps", "threshold", "nstar", "bound", "nstar_kind", "nstar_text",
            "n_reached", "censor_reason", "t_wall", "t_cpu", "n_seeds", "n_fixed", "err_fixed",
            "err_fixed_q25", "err_fixed_q75", "common", "n_fixed_ok", *ETOP_COLUMNS]
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
            **etop_range(g, eps),
        })
    out = pd.DataFrame(rows)
    fixed = error_at_fixed_n(learning_curves(df))
    out = out.merge(fixed, on=CURVE_KEYS, how="left")
    return out[cols]


ETOP_COLUMNS = ["top_share_se", "threshold_se", "nstar_etop_lo", "nstar_etop_hi",
                "nstar_etop_text"]
SE_WIDTH = 2.0  # the E_top range is E_top +- SE_WIDTH standard errors


def etop_range(g: pd.DataFrame, eps) -> dict:
    """n* of one prepared curve with E_top moved by -+ ``SE_WIDTH`` standard errors (module
    docstring); NaN columns (and an empty text) where E_top is exact or eps absolute.

    Each end re-prepares the records with the shifted top_share, so thresholds and ratios follow
    the same rules as the point estimate; the larger E_top gives the smaller n*
    (``nstar_etop_lo``).
    """
    eps = parse_eps(eps)
    se = g["top_share_se"].to_numpy(float)
    out = dict.fromkeys(ETOP_COLUMNS, np.nan) | {"nstar_etop_text": ""}
    if eps.kind != "relative" or not (se > 0).any():
        return out
    top = pd.to_numeric(g["top_share"], errors="coerce").to_numpy(float)
    out["top_share_se"] = float(np.nanmedian(se))
    out["threshold_se"] = eps.value * out["top_share_se"]
    ends = []
    for sign in (1.0, -1.0):
        shifted = np.maximum(top + sign * SE_WIDTH * se, top / 100.0)
        cd = curve_data(prepare(g.assign(top_share=shifted), eps))
        est = estimate(cd, _identity(cd))
        ends.append((float(est.nstar[0]), float(est.bound[0])))
    (lo, blo), (hi, bhi) = ends
    out["nstar_etop_lo"], out["nstar_etop_hi"] = lo, hi
    out["nstar_etop_text"] = f"{nstar_text(lo, blo)} .. {nstar_text(hi, bhi)}"
    return out


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


QUANTITIES = ("nstar", "t_wall", "t_cpu")


@dataclass
class SeedIntervals:
    """Each seed's n*, t*_wall, t*_cpu as intervals (lo, hi] of their logs, per quantity.

    ``lo``, ``hi``: (3, S) in the order of :data:`QUANTITIES`; lo = -inf: left-censored (passes at
    the seed's first grid point), hi = +inf: right-censored; ``valid`` (3, S): the seed carries
    information (a seed with one passing point and nothing else, or no point, does not).
    ``kind`` (S,): +1 right-censored, -1 left-censored, 0 interval, NaN no information.
    """

    seeds: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    valid: np.ndarray
    kind: np.ndarray


def _log(v: float) -> float:
    return float(np.log(v)) if np.isfinite(v) and v > 0 else np.nan


def seed_intervals(cd: CurveData) -> SeedIntervals:
    """Per-seed intervals of one curve (docs/metrics.md, "Per-seed n*").

    Over the grid points where the seed has a value (NaN cells dropped): the first point p that
    passes and whose next point passes (:func:`confirmed_pass`) gives n* in (n_{p-1}, n_p]
    (left-censored, (-inf, n_0], when p is the seed's first point).  Without such a point n* is
    right-censored at the seed's largest failing point among those up to its largest finite
    ratio (a timeout or failure beyond its last ok record censors at that record, as for the
    median).  t* takes the fit times at the same two points (a missing lower time: left-open).
    """
    s_count = len(cd.seeds)
    lo = np.full((3, s_count), np.nan)
    hi = np.full((3, s_count), np.nan)
    valid = np.zeros((3, s_count), bool)
    kind = np.full(s_count, np.nan)
    logn = np.log(cd.n) if len(cd.n) else np.zeros(0)
    for i in range(s_count):
        r = cd.ratio[i]
        pos = np.nonzero(~np.isnan(r))[0]
        if len(pos) == 0:
            continue
        rr = r[pos]
        times = (cd.wall[i, pos], cd.cpu[i, pos])
        conf = confirmed_pass(rr)
        if conf.any():
            p = int(conf.argmax())
            if p == 0:
                kind[i] = -1.0
                lo[:, i] = -np.inf
                hi[0, i] = logn[pos[0]]
                for q, t in enumerate(times, start=1):
                    hi[q, i] = _log(t[0])
            else:
                kind[i] = 0.0
                lo[0, i], hi[0, i] = logn[pos[p - 1]], logn[pos[p]]
                for q, t in enumerate(times, start=1):
                    a = _log(t[p - 1])
                    lo[q, i], hi[q, i] = (a if np.isfinite(a) else -np.inf), _log(t[p])
        else:
            finite = np.nonzero(np.isfinite(rr))[0]
            if len(finite) == 0:
                continue
            fail = np.nonzero(~(rr <= 1.0) & (np.arange(len(rr)) <= finite.max()))[0]
            if len(fail) == 0:
                continue
            f = int(fail.max())
            kind[i] = 1.0
            hi[:, i] = np.inf
            lo[0, i] = logn[pos[f]]
            for q, t in enumerate(times, start=1):
                lo[q, i] = _log(t[f])
        valid[:, i] = ~np.isnan(lo[:, i]) & ~np.isnan(hi[:, i]) & (lo[:, i] < hi[:, i])
    return SeedIntervals(cd.seeds, lo, hi, valid, kind)


def bootstrap_counts(prep: pd.DataFrame, n_boot: int, seed: int) -> dict[tuple, tuple]:
    """Seed resample counts per (task_label, d): ``(seeds (S,), counts (n_boot, S))``.

    Seeds are teachers: resampling a seed takes its whole curve, for every learner of that task
    and d alike (the same counts), so replicates are paired by teacher across learners.  The
    generator is ``stable_rng(seed, task_label, d)``: independent of the run's other curves.
    """
    out = {}
    for (task_label, d), g in prep.groupby(["task_label", "d"], sort=True):
        seeds = np.sort(g["seed"].unique())
        idx = stable_rng(seed, task_label, d).integers(0, len(seeds),
                                                       size=(int(n_boot), len(seeds)))
        counts = np.zeros((int(n_boot), len(seeds)))
        np.add.at(counts, (np.arange(int(n_boot))[:, None], idx), 1.0)
        out[(task_label, d)] = (seeds, counts)
    return out
