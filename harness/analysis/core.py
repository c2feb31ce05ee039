"""Core of the complexity analysis: eps thresholds, per-curve seed x n matrices, n*(eps), t*(eps).

Everything here implements the definitions of docs/metrics.md exactly, with the same symbols.

A *learning curve* is the set of records sharing ``(task_label, d, label)``; its seeds vary.  For
one curve, :func:`curve_data` builds the matrix ``R[s, j]`` of *error ratios* of seed ``s`` at grid
point ``n_j``::

    r = test_error / threshold,  threshold = eps                 (absolute eps)
                                 threshold = eps * top_share      (relative eps, per teacher)

so that "the median test error over seeds is <= eps" reads ``median_s R[s, j] <= 1`` for both
kinds of eps (for absolute eps the two statements are identical; for relative eps the threshold
differs per seed, i.e. per teacher, and the median is taken over the ratios).  Cell values:

* ``ok``: the measured ratio;
* ``skipped`` with skip kind ``eps_reached`` (not run because this seed already reached eps at a
  smaller n): the seed's last measured ratio at a smaller n (last observation carried forward),
  or exactly 1 if it has none -- the seed counts as passing at the larger n;
* ``failed``, ``timeout``, a skip of any other kind at an n that was run: ``+inf`` (the seed
  did not reach eps there);
* ``skipped`` with skip kind ``resource_memory`` / ``resource_time`` (the budget) or
  ``stopped_after_timeout`` / ``stopped_after_skip`` (the seed's series stopped after a timeout or
  a skip at a smaller n): not run; a grid point with only such records is not part of the
  curve's grid; these right-censor n*.
* seed absent at that n: NaN, ignored by the median.

With relative eps, an ok record without ``top_share`` has no threshold: it never reaches eps
(+inf), as in the scheduler.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from harness.experiment import Eps
from harness.store import SkipKind, Status
from tasks.streams import Stream, stream_rng

CURVE_KEYS = ["task_label", "d", "label"]


class CellKind(StrEnum):
    """What one record is to the analysis: its status, a skip split by its :class:`SkipKind`."""

    OK = "ok"
    ADAPTIVE = "adaptive"    # eps already reached at a smaller n (passing)
    TIMEOUT = "timeout"
    FAILED = "failed"        # also: an ok record without a finite test error
    SKIPPED = "skipped"      # a skip of another kind
    RESOURCE = "resource"    # over the budget (right-censoring)
    STOPPED = "stopped"      # adaptive stop after a timeout or a skip (right-censoring)


#: the cell kind of each skip kind (a skip of any other kind is CellKind.SKIPPED)
SKIP_CELL = {SkipKind.EPS_REACHED: CellKind.ADAPTIVE,
             SkipKind.RESOURCE_MEMORY: CellKind.RESOURCE,
             SkipKind.RESOURCE_TIME: CellKind.RESOURCE,
             SkipKind.STOPPED_AFTER_TIMEOUT: CellKind.STOPPED,
             SkipKind.STOPPED_AFTER_SKIP: CellKind.STOPPED}
#: cell kinds, in the order of preference when one (seed, n) has several records
KIND_ORDER = tuple(CellKind)
#: kinds of records that were not run (not part of a curve's grid)
NOT_RUN = (CellKind.RESOURCE, CellKind.STOPPED)
TINY = 1e-300


def parse_eps(eps: Any = None) -> Eps:
    """The spec's :class:`~harness.experiment.spec.Eps` from None (absolute 0.1), a float, a dict
    ``{kind, value}``, a whole spec dict (its ``eps``) or an Eps."""
    if isinstance(eps, Eps):
        return eps
    if eps is None:
        return Eps(value=0.1)
    if isinstance(eps, dict):
        if "eps" in eps or "name" in eps:  # a whole spec
            return parse_eps(eps.get("eps"))
        return Eps.model_validate({"kind": "absolute", "value": 0.1} | eps)
    return Eps(value=float(eps))


def cell_kind(df: pd.DataFrame) -> pd.Series:
    """:class:`CellKind` of each record (as its string): its status; a skip by its ``skip_kind``
    column (adaptive, resource, stopped, else skipped); the ``reason`` text is never read."""
    kind = df["status"].astype(str).copy()
    skipped = kind == Status.SKIPPED
    if skipped.any():
        sk = df["skip_kind"] if "skip_kind" in df else pd.Series(None, index=df.index)
        kind[skipped] = sk[skipped].map(lambda k: str(SKIP_CELL.get(k, CellKind.SKIPPED)))
    bad_ok = (kind == Status.OK) & ~np.isfinite(pd.to_numeric(df["test_error"], errors="coerce"))
    kind[bad_ok] = str(CellKind.FAILED)  # an ok record without a finite error has no usable value
    return kind


def family_key(task: str, params: Any, index_param: str | None) -> str:
    """Task name plus its parameters without the index parameter: ``bfc{"k": 4}``."""
    params = dict(params) if isinstance(params, dict) else {}
    params.pop(index_param, None)
    return f"{task}{json.dumps(params, sort_keys=True, default=str)}"


def prepare(df: pd.DataFrame, eps: Any = None) -> pd.DataFrame:
    """Records plus ``kind``, ``threshold``, ``ratio``, ``index_param``, ``top_share_se`` and
    ``family_key``."""
    eps = parse_eps(eps)
    out = df.copy()
    out["kind"] = cell_kind(out)
    out["threshold"] = eps.threshold(out["top_share"])
    ratio = pd.to_numeric(out["test_error"], errors="coerce") / out["threshold"]
    out["ratio"] = ratio.where(~((out["kind"] == CellKind.OK) & ratio.isna()), np.inf)
    info = out["task_info"].map(lambda i: i if isinstance(i, dict) else {})
    out["index_param"] = info.map(lambda i: i.get("index_param"))
    # standard error of a Monte Carlo top_share (0: exact energies, or not reported)
    out["top_share_se"] = pd.to_numeric(info.map(lambda i: i.get("top_share_se")),
                                        errors="coerce").fillna(0.0)
    out["family_key"] = [
        family_key(t, p, ip)
        for t, p, ip in zip(out["task"], out["task_params"], out["index_param"], strict=True)
    ]
    return out


@dataclass
class CurveData:
    """One learning curve as matrices over (seed, grid point); see the module docstring."""

    n: np.ndarray  # (G,) grid points that were run, increasing
    seeds: np.ndarray  # (S,)
    ratio: np.ndarray  # (S, G) error ratios, +inf = not reached, NaN = absent
    wall: np.ndarray  # (S, G) fit wall seconds of ok records, else NaN
    cpu: np.ndarray  # (S, G) fit CPU seconds of ok records, else NaN
    n_reached: float  # largest n with an ok record (NaN when none)
    censor_reason: str  # what stopped the curve beyond n_reached

    def rows(self, seeds: np.ndarray) -> CurveData:
        """The same curve re-indexed to ``seeds`` (rows of absent seeds are NaN)."""
        pos = {s: i for i, s in enumerate(self.seeds)}
        take = np.array([pos.get(s, -1) for s in seeds], dtype=int)

        def pick(a: np.ndarray) -> np.ndarray:
            out = np.full((len(seeds), a.shape[1]), np.nan)
            out[take >= 0] = a[take[take >= 0]]
            return out

        return CurveData(self.n, np.asarray(seeds), pick(self.ratio), pick(self.wall),
                         pick(self.cpu), self.n_reached, self.censor_reason)


def _cells(frame: pd.DataFrame, col: str, si: np.ndarray, gi: np.ndarray,
           shape: tuple) -> np.ndarray:
    """Scatter ``frame[col]`` into an (S, G) float matrix at rows ``si``, columns ``gi``."""
    out = np.full(shape, np.nan)
    out[si, gi] = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
    return out


def _carry_forward(a: np.ndarray) -> np.ndarray:
    """Last finite value to the left along each row (NaN before the first one)."""
    pos = np.where(np.isfinite(a), np.arange(a.shape[1])[None, :], -1)
    last = np.maximum.accumulate(pos, axis=1)
    out = np.take_along_axis(a, np.maximum(last, 0), axis=1)
    return np.where(last >= 0, out, np.nan)


def curve_data(g: pd.DataFrame) -> CurveData:
    """Matrices of one curve from its prepared records (see :func:`prepare`)."""
    order = {k: i for i, k in enumerate(KIND_ORDER)}
    g = g[["seed", "n", "kind", "ratio", "fit_wall_s", "fit_cpu_s"]]
    g = g.iloc[np.argsort(g["kind"].map(order).to_numpy(), kind="stable")]
    g = g[~g.duplicated(["seed", "n"])]
    kind = g["kind"].to_numpy(str)
    run = g[~np.isin(kind, [str(k) for k in NOT_RUN])]
    rk = run["kind"].to_numpy(str)
    grid = np.sort(run["n"].unique()).astype(float)
    seeds = np.sort(g["seed"].unique())
    si = np.searchsorted(seeds, run["seed"].to_numpy())
    gi = np.searchsorted(grid, run["n"].to_numpy(float))
    shape = (len(seeds), len(grid))
    ok = rk == CellKind.OK
    r_ok = np.full(shape, np.nan)
    r_ok[si[ok], gi[ok]] = run["ratio"].to_numpy(float)[ok]
    ratio = r_ok.copy()
    ad = rk == CellKind.ADAPTIVE
    carried = np.nan_to_num(_carry_forward(r_ok), nan=1.0)
    ratio[si[ad], gi[ad]] = carried[si[ad], gi[ad]]
    bad = np.isin(rk, [str(k) for k in (CellKind.FAILED, CellKind.TIMEOUT, CellKind.SKIPPED)])
    ratio[si[bad], gi[bad]] = np.inf
    okr = run[ok]
    wall = _cells(okr, "fit_wall_s", si[ok], gi[ok], shape)
    cpu = _cells(okr, "fit_cpu_s", si[ok], gi[ok], shape)
    n_reached = float(okr["n"].max()) if ok.any() else np.nan
    return CurveData(grid, seeds, ratio, wall, cpu, n_reached, _censor_reason(g, n_reached))


def _censor_reason(g: pd.DataFrame, n_reached: float) -> str:
    """Why the curve stops at n_reached: resource model, timeout, failed, or the grid's end."""
    kinds = g["kind"].to_numpy(str)
    if not np.isnan(n_reached):
        kinds = kinds[g["n"].to_numpy(float) > n_reached]
    for kind, text in ((CellKind.RESOURCE, "resource model"), (CellKind.TIMEOUT, "timeout"),
                       (CellKind.STOPPED, "adaptive stop"), (CellKind.FAILED, "failed"),
                       (CellKind.SKIPPED, "skipped")):
        if (kinds == kind).any():
            return text
    return "n_max reached" if not np.isnan(n_reached) else "no ok record"


def boot_medians(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Medians over resampled seeds, NaN ignored: ``a`` (S, G), ``idx`` (B, S) rows -> (B, G).

    The usual median (mean of the two middle values for an even count); +inf counts as a value.
    """
    x = np.sort(a[idx], axis=1)  # NaN sorts last
    k = np.sum(~np.isnan(x), axis=1)  # (B, G)
    lo = np.take_along_axis(x, np.maximum((k - 1) // 2, 0)[:, None, :], axis=1)[:, 0]
    hi = np.take_along_axis(x, np.maximum(k // 2, 0)[:, None, :], axis=1)[:, 0]
    with np.errstate(invalid="ignore"):
        med = np.where(lo == hi, lo, 0.5 * (lo + hi))
    return np.where(k > 0, med, np.nan)


@dataclass
class NStar:
    """n*(eps) for B replicates of one curve: value, bound direction and interpolation position."""

    nstar: np.ndarray  # (B,) n* (NaN when the curve has no ok record)
    bound: np.ndarray  # (B,) +1 right-censored (n* > value), -1 passes at the grid's first point
    #                    (n* <= value), 0 interpolated; NaN when nstar is NaN
    j: np.ndarray  # (B,) index of the first passing grid point, -1 when censored
    frac: np.ndarray  # (B,) position of n* between n_{j-1} and n_j in log n (1 = at n_j)
    k: np.ndarray  # (B,) grid index of the censoring point when censored, else -1


def confirmed_pass(r: np.ndarray) -> np.ndarray:
    """Where a row of ratios reaches eps under the lucky-dip rule: r_j <= 1 AND r_{j+1} <= 1.

    ``r`` has shape (..., G); the result has the same shape, False at the last column (a pass at
    the top of the grid has no next point to confirm it: undetermined, never a pass).  NaN (no
    value) fails the comparison, so a pass followed by a missing point is not confirmed.
    """
    passing = r <= 1.0
    out = np.zeros_like(passing)
    out[..., :-1] = passing[..., :-1] & passing[..., 1:]
    return out


def nstar_from_medians(med: np.ndarray, grid: np.ndarray, n_reached: float) -> NStar:
    """n*(eps) from median ratios ``med`` (B, G) on ``grid`` (G,) (docs/metrics.md definition).

    j = first grid index whose median passes (m_j <= 1) AND passes at the next grid point
    (m_{j+1} <= 1; :func:`confirmed_pass`), so one lucky dip does not count.  Then m_{j-1} > 1
    (otherwise j - 1 would qualify).  If j > 0, with a = j - 1 the last failing point::

        log n* = log n_a + frac * (log n_j - log n_a),   frac = log m_a / (log m_a - log m_j)

    i.e. log n linear in log(median error) between the two points, evaluated at the threshold.
    If m_a is not finite (a failed/timed-out point), frac = 1 (n* = n_j, no refinement).
    If j = 0, n* = n_0 (the grid's first point; flagged as an upper bound, bound = -1).
    If no point qualifies, n* is right-censored (bound = +1) at the largest grid point whose
    median fails (a pass at the top of the grid, unconfirmed, leaves n* > the failing point
    below it); only points up to ``n_reached`` (the largest n with an ok record) count as failing,
    so a timeout beyond it censors at n_reached, as before.  With no failing point either (a
    single passing point) or no ok record, n* is undetermined (NaN).
    """
    b, g = med.shape
    conf = confirmed_pass(med) if g else np.zeros((b, 0), bool)
    has = conf.any(axis=1) if g else np.zeros(b, bool)
    j = np.where(has, conf.argmax(axis=1) if g else 0, -1)
    frac = np.ones(b)
    inner = has & (j > 0)
    rows = np.nonzero(inner)[0]
    la = np.log(med[rows, j[rows] - 1])
    lb = np.log(np.maximum(med[rows, j[rows]], TINY))
    with np.errstate(invalid="ignore", divide="ignore"):
        f = la / (la - lb)
    frac[rows] = np.where(np.isfinite(f), np.clip(f, 0.0, 1.0), 1.0)
    logn = np.log(grid) if g else np.zeros(0)
    failing = ~(med <= 1.0) & (grid <= n_reached)[None, :]  # False everywhere without an ok
    last_fail = (g - 1 - np.argmax(failing[:, ::-1], axis=1)) if g else np.zeros(b, int)
    any_fail = failing.any(axis=1) if g else np.zeros(b, bool)
    nstar = np.full(b, np.nan)
    bound = np.full(b, np.nan)
    cens = ~has & any_fail
    nstar[cens] = grid[last_fail[cens]]
    bound[cens] = 1.0
    nstar[has & (j == 0)] = grid[0] if g else np.nan
    bound[has & (j == 0)] = -1.0
    nstar[rows] = np.exp(logn[j[rows] - 1] + frac[rows] * (logn[j[rows]] - logn[j[rows] - 1]))
    bound[rows] = 0.0
    return NStar(nstar, bound, j, frac, np.where(cens, last_fail, -1))


def time_at_nstar(tmed: np.ndarray, grid: np.ndarray, ns: NStar, n_reached: float) -> np.ndarray:
    """t*(eps) from median fit times ``tmed`` (B, G), consistent with :func:`nstar_from_medians`.

    log t* = log t_a + frac * (log t_j - log t_a) with the same frac as n* (t_j alone when t_a is
    missing); at the grid's first point t* = t_0; when n* is censored, t* = the time at the
    censoring point, a lower bound under the assumption that fit time does not decrease with n.
    """
    b = tmed.shape[0]
    out = np.full(b, np.nan)
    if tmed.shape[1] == 0:
        return out
    rows = np.nonzero(ns.j > 0)[0]
    ja = ns.j[rows] - 1
    ta, tb = tmed[rows, ja], tmed[rows, ns.j[rows]]
    with np.errstate(invalid="ignore", divide="ignore"):
        lt = np.log(np.maximum(ta, TINY)) + ns.frac[rows] * (
            np.log(np.maximum(tb, TINY)) - np.log(np.maximum(ta, TINY)))
    out[rows] = np.where(np.isfinite(ta) & (ta > 0), np.exp(lt), tb)
    first = ns.j == 0
    out[first] = tmed[first, 0]
    cens = ns.k >= 0
    out[cens] = tmed[cens, ns.k[cens]]
    return out


def combine_bounds(bounds: np.ndarray, weights: np.ndarray) -> float:
    """Bound direction of the linear statistic ``sum_i w_i y_i`` from those of its inputs.

    Input i is exact (0), a lower bound (+1: true y_i >= value) or an upper bound (-1).  The true
    statistic minus the computed one is ``sum_i w_i (true_i - y_i)``, whose sign is known when all
    ``sign(w_i) * bound_i`` agree: +1 -> the statistic is a lower bound, -1 -> an upper bound,
    0 -> exact, NaN -> indeterminate (bounds pulling both ways).
    """
    c = np.sign(np.asarray(weights, float)) * np.asarray(bounds, float)
    if np.isnan(c).any():
        return np.nan
    if (c > 0).any() and (c < 0).any():
        return np.nan
    return 1.0 if (c > 0).any() else (-1.0 if (c < 0).any() else 0.0)


def stable_rng(seed: int, *key: Any) -> np.random.Generator:
    """A generator determined by ``seed`` and a key (independent of group order): the
    ``BOOTSTRAP`` stream of :mod:`tasks.streams`, keyed by a hash of ``key``."""
    h = zlib.crc32("|".join(map(str, key)).encode())
    return stream_rng(seed, Stream.BOOTSTRAP, h)
