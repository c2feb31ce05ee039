"""Scaling exponents beta (n* ~ d^beta) and gamma (t* ~ d^gamma) by censored maximum likelihood.

Implements docs/metrics.md ("Exponents"):

* Data: every seed of every d of one (task_label, label) contributes its n* as an interval of
  log n (:func:`harness.analysis.complexity.seed_intervals`: last failing to first passing grid
  point, lucky-dip rule; left-censored below the grid's first point, right-censored above the
  largest failing n within the budget).  gamma_wall / gamma_cpu: the same with the fit times.
* Model: log n*_i = a + beta log d_i + sigma z_i, fitted by maximising the interval-censored
  Gaussian likelihood (:mod:`harness.analysis.censored`; sigma >= the grid-rounding floor).
* Identifiability: "not estimable" only when the likelihood does not pin beta (fewer than
  ``MIN_D`` = 2 d values with information, or every point censored the same way...); when it
  pins beta on one side only, beta is a bound ("> value": the one-sided 95 % profile-likelihood
  limit).
* CI: bootstrap over seeds (teachers: a resampled seed brings its whole curve), the same resample
  for every learner of a (task_label, d), so replicates are paired by teacher; each replicate is
  refitted (all replicates at once).  Interval: studentised bootstrap (:mod:`.intervals`).
* Beside beta: ``theory_slope`` (slope over the same d values of the finite-d theory curve),
  ``theory_asymptotic``, ``theory_formula`` (:mod:`harness.analysis.theory`), and the task's
  asymptotic exponent for the learner's family (``theory_beta``, ``theory``) as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.censored import fit_batch, pinned, profile_bound, sigma_floor
from harness.analysis.complexity import QUANTITIES, bootstrap_counts, seed_intervals
from harness.analysis.core import combine_bounds, curve_data, parse_eps, prepare
from harness.analysis.intervals import t_interval
from harness.analysis.theory import pooled_info, theory_columns

MIN_D = 2
KIND_TEXT = {0.0: "estimate", 1.0: "lower bound", -1.0: "upper bound"}
EXP_META = ["task", "task_label", "family_key", "index_param", "hierarchy_index", "learner",
            "label", "family"]
NAMES = {"nstar": "beta", "t_wall": "gamma_wall", "t_cpu": "gamma_cpu"}


def _reason(lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> str:
    if np.all(np.isinf(hi)):
        return "censored at every point"
    if np.all(np.isinf(lo)):
        return "at the grid minimum at every point"
    return "informative points at one d only; the likelihood does not pin beta"


def fit_power_law(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, w: np.ndarray,
                  ci: float = 0.95) -> dict:
    """Censored ML slope of one quantity with its bootstrap CI.

    ``x`` (N,) log d; ``lo``, ``hi`` (N,) log bounds; ``w`` (B, N) bootstrap counts.  Returns
    slope, intercept (log value at d = 1), lo, hi, kind, note, se, sigma, boot (B,), se_boot (B,),
    n_d, n_boot_used, method.
    """
    out = {"slope": np.nan, "intercept": np.nan, "lo": np.nan, "hi": np.nan,
           "kind": "not estimable", "note": "", "se": np.nan, "sigma": np.nan,
           "boot": np.full(w.shape[0], np.nan), "se_boot": np.full(w.shape[0], np.nan),
           "n_d": int(len(np.unique(x))), "n_boot_used": 0, "method": ""}
    k = out["n_d"]
    if k < MIN_D:
        out["note"] = f"{k} usable d value{'s' if k != 1 else ''} (need {MIN_D})"
        return out
    up, down = pinned(x, lo, hi)
    xbar = float(x.mean())
    xc = x - xbar
    smin = sigma_floor(lo, hi)
    if not (up or down):
        out["note"] = _reason(lo, hi, x)
        return out
    if up != down:  # one side only: a profile-likelihood bound, no sampling spread
        value = profile_bound(xc, lo, hi, smin, upper=up)
        kind = "lower bound" if down else "upper bound"
        out.update(slope=value, kind=kind, boot=np.full(w.shape[0], value),
                   se_boot=np.zeros(w.shape[0]), se=0.0, method="profile likelihood",
                   note="one-sided: censoring pins beta on one side only")
        return out
    fit = fit_batch(xc, lo, hi, np.vstack([np.ones(len(x)), w]), smin)
    beta, se = float(fit.beta[0]), float(fit.se[0])
    if not np.isfinite(beta):
        out["note"] = "the fit did not converge"
        return out
    boot, se_boot = fit.beta[1:], fit.se[1:]
    lo_ci, hi_ci, method = t_interval(beta, se, boot, se_boot, ci, dof=len(x) - 3)
    out.update(slope=beta, intercept=float(fit.a[0] - beta * xbar), lo=lo_ci, hi=hi_ci,
               kind="estimate", se=se, sigma=float(fit.sigma[0]), boot=boot, se_boot=se_boot,
               n_boot_used=int(np.isfinite(boot).sum()), method=method)
    n_c = int(np.sum(np.isinf(hi)) + np.sum(np.isinf(lo)))
    out["note"] = f"{n_c} censored seed point{'s' if n_c != 1 else ''}" if n_c else ""
    return out


def slope_text(slope: float, lo: float, hi: float, kind: str, note: str = "") -> str:
    """``2.48 [2.40, 2.57]``, ``> 1.92``, ``< ...`` or ``not estimable (...)``."""
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
    """beta and gamma (wall, CPU) per (task_label, label) by censored ML, with bootstrap CIs.

    Columns: ``beta``, ``beta_lo``, ``beta_hi``, ``beta_kind`` (estimate / lower bound / upper
    bound / not estimable), ``beta_text``, ``beta_note``, ``beta_se`` (from the observed
    information), ``beta_sigma`` (fitted scatter of log n* around the line), ``beta_method``
    (bootstrap-t / percentile / profile likelihood), ``intercept`` (log n* at d = 1), the same for
    ``gamma_wall`` and ``gamma_cpu``; ``n_obs`` (seed points used), ``n_censored`` /
    ``n_at_min`` (right- / left-censored seed points), ``n_d``, ``n_boot_used``; theory:
    ``theory_slope``, ``theory_asymptotic``, ``theory_formula``, ``theory_beta``, ``theory``;
    and the replicates ``beta_boot``, ``beta_se_boot`` (paired by teacher; for the verdicts).
    """
    eps = parse_eps(eps)
    if df.empty:
        return pd.DataFrame(columns=[*EXP_META, "beta", "beta_kind", "beta_text", "beta_boot",
                                     "theory_slope", "theory_asymptotic", "theory_formula"])
    prep = prepare(df, eps)
    counts = bootstrap_counts(prep, n_boot, seed)
    rows = []
    for (task_label, _label), g in prep.groupby(["task_label", "label"], sort=True):
        rows.append(_exponent_row(g, task_label, counts, eps, ci, int(n_boot)))
    return pd.DataFrame(rows)


def _observations(g: pd.DataFrame, task_label: str, counts: dict, n_boot: int):
    """x (N,), lo/hi/valid (3, N) and weights (B, N) over the seeds of every d of one row."""
    xs, los, his, vals, ws = [], [], [], [], []
    for d, h in g.groupby("d", sort=True):
        seeds, cnt = counts[(task_label, d)]
        si = seed_intervals(curve_data(h).rows(seeds))
        xs.append(np.full(len(seeds), np.log(float(d))))
        los.append(si.lo)
        his.append(si.hi)
        vals.append(si.valid)
        ws.append(cnt)
    if not xs:
        return np.zeros(0), np.zeros((3, 0)), np.zeros((3, 0)), np.zeros((3, 0), bool), \
            np.zeros((n_boot, 0))
    return (np.concatenate(xs), np.hstack(los), np.hstack(his), np.hstack(vals),
            np.hstack(ws))


def _exponent_row(g: pd.DataFrame, task_label: str, counts: dict, eps, ci: float,
                  n_boot: int) -> dict:
    first = g.iloc[0]
    ds = np.sort(g["d"].unique())
    x, lo, hi, valid, w = _observations(g, task_label, counts, n_boot)
    v0 = valid[0]
    row = {m: first[m] for m in EXP_META}
    row.update(eps=eps.text(), d_values=",".join(str(int(d)) for d in ds),
               n_obs=int(v0.sum()), n_censored=int(np.sum(v0 & np.isinf(hi[0]))),
               n_at_min=int(np.sum(v0 & np.isinf(lo[0]))))
    for q, attr in enumerate(QUANTITIES):
        name = NAMES[attr]
        use = valid[q]
        f = fit_power_law(x[use], lo[q, use], hi[q, use], w[:, use], ci)
        row.update({name: f["slope"], f"{name}_lo": f["lo"], f"{name}_hi": f["hi"],
                    f"{name}_kind": f["kind"], f"{name}_note": f["note"],
                    f"{name}_se": f["se"], f"{name}_method": f["method"],
                    f"{name}_text": slope_text(f["slope"], f["lo"], f["hi"], f["kind"],
                                               f["note"])})
        if name == "beta":
            row.update(intercept=f["intercept"], n_d=f["n_d"], beta_sigma=f["sigma"],
                       n_boot_used=f["n_boot_used"], beta_boot=f["boot"],
                       beta_se_boot=f["se_boot"])
    row["theory_beta"], row["theory"] = _theory(first["task_info"], first["family"])
    row.update(theory_columns(first["task"], first["task_params"], pooled_info(g),
                              first["learner"], first["family"], eps, ds))
    return row


def paired_beta(exp: pd.DataFrame, ci: float = 0.95) -> pd.DataFrame:
    """Delta beta = beta_A - beta_B per task configuration and pair of learners (A < B by label).

    The replicates of A and B share their seed resamples (same teachers), so the replicate
    differences give a paired bootstrap; the interval is studentised with
    se = sqrt(se_A^2 + se_B^2) per replicate.  Bounds combine as in :func:`combine_bounds`
    (A's bound with weight +1, B's with weight -1).
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
                se_reps = np.hypot(_se_boot(a)[:m], _se_boot(b)[:m])
                delta = float(a["beta"] - b["beta"])
                se = float(np.hypot(_se(a), _se(b)))
                lo, hi, _ = t_interval(delta, se, reps, se_reps, ci)
                k = combine_bounds(np.array([code[a["beta_kind"]], code[b["beta_kind"]]]),
                                   np.array([1.0, -1.0]))
                kind = KIND_TEXT.get(k, "not estimable")
                note = "bounds pull both ways" if kind == "not estimable" else ""
                rows.append((task_label, a["label"], b["label"], delta, lo, hi, kind,
                             slope_text(delta, lo, hi, kind, note)))
    return pd.DataFrame(rows, columns=cols)


def _se(row: pd.Series) -> float:
    v = row.get("beta_se", np.nan)
    return float(v) if v is not None and np.isfinite(v) else np.nan


def _se_boot(row: pd.Series) -> np.ndarray:
    v = row.get("beta_se_boot")
    if v is None or (not isinstance(v, np.ndarray) and pd.isna(v)):
        return np.full(len(row["beta_boot"]), np.nan)
    return np.asarray(v, float)
