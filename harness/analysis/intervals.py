"""Confidence intervals: studentised bootstrap (bootstrap-t) joined with the likelihood's Wald one.

With few seeds a percentile interval of a bootstrap statistic undercovers (resamples of 3 seeds
repeat seeds, so the replicates scatter less than the estimate does: a 95 % percentile interval
of a median of 3 covers about 75 %).  The studentised interval corrects for it by pivoting on the
estimate's own standard error in every replicate (Efron & Tibshirani 1993, ch. 12):

    t_b = (theta_b - theta_hat) / se_b,     CI = [theta_hat - t_(1-a/2) se_hat,
                                                  theta_hat - t_(a/2) se_hat]

with t_(q) the q-quantile of the t_b and a = 1 - ci.  A replicate whose resample repeats seeds
has a smaller se_b, hence a larger |t_b|: the interval widens exactly where the percentile one is
too narrow.

It still undercovers when the scatter of log n* between seeds is small against the grid's
spacing: all seeds of a d then fall in the same grid interval, resampling them changes nothing,
and the error of where the grid happens to cut at that d is invisible to the bootstrap (measured:
~80 % for a nominal 95 % with sigma = 0.15, spacing log sqrt 2 = 0.35, heavy censoring).  The
likelihood sees it (the interval widths and the floor on sigma enter the information), so the
reported interval is the hull of the bootstrap-t interval and the Wald interval
theta_hat +- t_{dof, 1-a/2} se_hat (Student quantile, dof = informative seed points - 3):

    CI = [min(lo_boot-t, lo_Wald), max(hi_boot-t, hi_Wald)],

conservative by construction; its coverage on synthetic power laws with censoring is checked in
tests/test_analysis_mle.py (>= 90 % of 50 replications) and quoted in docs/metrics.md.
Without standard errors (se_hat not finite or 0) the percentile interval of the theta_b is used.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

MIN_REPLICATES = 10


def percentile_interval(reps: np.ndarray, ci: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite replicates (NaN, NaN when there are none)."""
    reps = np.asarray(reps, float)
    reps = reps[np.isfinite(reps)]
    if len(reps) == 0:
        return np.nan, np.nan
    a = 100 * (1 - ci) / 2
    lo, hi = np.percentile(reps, [a, 100 - a])
    return float(lo), float(hi)


def t_interval(est: float, se: float, reps: np.ndarray, se_reps: np.ndarray,
               ci: float = 0.95, dof: float | None = None) -> tuple[float, float, str]:
    """Hull of the studentised bootstrap and the Wald interval of ``est`` (module docstring);
    returns (lo, hi, method).  ``dof`` None or < 1: normal quantile for the Wald part."""
    reps, se_reps = np.asarray(reps, float), np.asarray(se_reps, float)
    if not np.isfinite(est):
        return np.nan, np.nan, "none"
    ok = np.isfinite(reps) & np.isfinite(se_reps) & (se_reps > 0)
    if not (np.isfinite(se) and se > 0) or ok.sum() < MIN_REPLICATES:
        lo, hi = percentile_interval(reps, ci)
        return lo, hi, "percentile"
    t = (reps[ok] - est) / se_reps[ok]
    a = (1 - ci) / 2
    tlo, thi = np.quantile(t, [a, 1 - a])
    q = stats.t.ppf(1 - a, dof) if dof is not None and dof >= 1 else stats.norm.ppf(1 - a)
    return (float(min(est - thi * se, est - q * se)), float(max(est - tlo * se, est + q * se)),
            "bootstrap-t | Wald")
