"""Finite-d theory: the n*(d) each paper predicts for a (task, eps, learner), on the run's d grid.

The measured beta is a slope over a finite d grid, so it is compared with the slope over the same
grid of the predicted curve, not only with its asymptotic exponent (docs/metrics.md, "Finite-d
theory").  With D the run's d values of a (task configuration, learner):

    theory_slope = least-squares slope of log n_theory(d) on log d over d in D.

Predicted curves (constants the papers leave open are 1; they do not change a slope):

* kernels, NTK, random features, polynomial features ("non-hierarchical"), every task:
  n_theory(d) = N_q(d), the number of polynomials of degree <= q in d variables,

      N_q(d) = C(d + q, q)                       (Gaussian inputs, Hermite degree)
      N_q(d) = sum_{k <= q} C(d, k)              (Boolean cube, Walsh degree; multilinear)

  with q the smallest degree whose polynomials reach eps: for relative eps (value v) the smallest
  q > q_low with sum_{q_low < k <= q} E_k >= (1 - v) E_top (E_k the energy of y* at degree k,
  E_top = sum_{k > q_low} E_k); for absolute eps the smallest q with sum_{k > q} E_k <= eps.
  Without energies, q = q_low + 1.  Asymptotic exponent: q.
* two-layer nets (learner ``two_layer``) on multi_index: n = d^2 r + d r^p (Damian, Lee &
  Soltanolkotabi 2022, Thm. 1); asymptotic 2.  On the pure single-index option h_p(u.x): online
  SGD needs d^(p-1) for p >= 3 and d log d for p = 2 (Ben Arous, Gheissari & Jagannath 2021).
  On staircase: d^max(leap - 1, 1) samples of online SGD (Abbe, Boix-Adsera & Misiakiewicz 2023;
  leap 1 for the staircase, D for the parity).
* three-layer layerwise nets (learners ``three_layer``, ``layerwise``, family "layerwise") on
  hier_poly: n = d^k (Wang, Nichani & Lee 2024, Thm. 1, up to logs); asymptotic k.
* end-to-end deep nets (family "hierarchical", other than ``two_layer``): no paper gives a
  finite-d curve for them on these tasks (Allen-Zhu & Li prove poly(d) with no exponent on bfc;
  the other guarantees are for the two- or three-layer algorithms above): none, and the table says
  so.  Layerwise nets on bfc, multi_index and staircase: none (no result).  Baselines: none.

Task degrees (q_low, degree, energies) come from ``task_info`` ("q_low", "degree",
"energy_by_degree"); :func:`task_degrees` is the one place with the fallbacks for records made
before tasks carried them (docstring there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from harness.experiment import Eps
from learners.base import Family


class TheoryClass(StrEnum):
    """Which theoretical result applies to a learner."""

    KERNEL = "kernel"
    TWO_LAYER = "two_layer"
    THREE_LAYER = "three_layer"
    DEEP = "deep"
    NONE = "none"


def theory_class(learner: str, family: str) -> TheoryClass:
    """Kernel for "non-hierarchical"; two-layer for ``two_layer``; three-layer for the layerwise
    family; deep for other "hierarchical" learners; none for baselines and unknown families."""
    if family == Family.NON_HIERARCHICAL:
        return TheoryClass.KERNEL
    if learner == "two_layer":
        return TheoryClass.TWO_LAYER
    if family == Family.LAYERWISE:
        return TheoryClass.THREE_LAYER
    if family == Family.HIERARCHICAL:
        return TheoryClass.DEEP
    return TheoryClass.NONE


@dataclass
class TaskDegrees:
    """Degrees of a task configuration: q_low, degree, energies by degree (normalised)."""

    q_low: int | None
    degree: int | None
    energies: np.ndarray | None  # (degree + 1,), sums to 1, or None when unknown
    cube: bool  # Boolean cube (Walsh degree) rather than Gaussian inputs (Hermite degree)
    source: str  # "task_info" or "fallback"


def _int(v) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def task_degrees(task: str, params: dict, info: dict) -> TaskDegrees:
    """q_low, degree and energies of a task from its ``task_info``, with fallbacks.

    Fallbacks (used only when ``task_info`` lacks "q_low"; exact by construction where energies
    are given): multi_index: q_low = 2, degree p, E_2 = low_share, E_p = 1 - low_share when p >= 3
    and not pure; q_low = 0 and E_p = 1 for p = 2 or pure.  staircase: q_low = D - 1, E_j = w_j
    (Walsh degree j; 1 / D by default); parity: q_low = 0, E_D = 1.  bfc: q_low = 2^(L-1), degree
    2^L, energies unknown.  hier_poly: q_low = k, degree k q, energies unknown.  Otherwise unknown.
    """
    params, info = dict(params or {}), dict(info or {})
    cube = task == "staircase" or info.get("domain") == "cube"
    if info.get("q_low") is not None:
        e = info.get("energy_by_degree")
        energies = None
        if isinstance(e, (list, tuple)) and len(e) and np.all(np.isfinite(np.asarray(e, float))):
            energies = np.asarray(e, float) / max(float(np.sum(e)), 1e-300)
        return TaskDegrees(_int(info["q_low"]), _int(info.get("degree")), energies, cube,
                           "task_info")
    if task == "multi_index":
        p, pure = int(params.get("p", 4)), bool(params.get("pure", False))
        e = np.zeros(p + 1)
        if p >= 3 and not pure:
            low = float(params.get("low_share", 0.5))
            e[2], e[p] = low, 1.0 - low
            return TaskDegrees(2, p, e, cube, "fallback")
        e[p] = 1.0
        return TaskDegrees(0, p, e, cube, "fallback")
    if task == "staircase":
        D = int(params.get("D", 3))
        e = np.zeros(D + 1)
        if params.get("kind", "staircase") == "parity":
            e[D] = 1.0
            return TaskDegrees(0, D, e, True, "fallback")
        w = np.asarray(params.get("weights") or [1.0] * D, float)
        e[1:] = w / w.sum()
        return TaskDegrees(D - 1, D, e, True, "fallback")
    if task == "bfc":
        L = int(params.get("L", 3))
        return TaskDegrees(2 ** (L - 1), 2**L, None, cube, "fallback")
    if task == "hier_poly":
        k = int(params.get("k", 2))
        deg = _int(params.get("degree")) or k * int(params.get("q", 2))
        return TaskDegrees(k, deg, None, cube, "fallback")
    return TaskDegrees(None, _int(info.get("degree")), None, cube, "fallback")


def kernel_degree(deg: TaskDegrees, eps: Eps) -> int | None:
    """The polynomial degree q a kernel must fit to reach eps (see the module docstring)."""
    tol = 1e-12
    if deg.energies is not None and deg.q_low is not None:
        e = deg.energies
        if eps.kind == "relative":
            top = e[deg.q_low + 1:].sum()
            if top <= tol:
                return None
            got = np.cumsum(e[deg.q_low + 1:])
            q = int(np.argmax(got >= (1.0 - eps.value) * top - tol))
            return deg.q_low + 1 + q
        resid = e.sum() - np.cumsum(e)  # energy above degree q, q = 0..degree
        hit = np.nonzero(resid <= eps.value + tol)[0]
        return int(hit[0]) if len(hit) else None
    return None if deg.q_low is None else deg.q_low + 1


def count_polys(d: np.ndarray, q: int, cube: bool) -> np.ndarray:
    """N_q(d): C(d + q, q) on R^d, sum_{k <= q} C(d, k) on the cube (float array)."""
    d = np.asarray(d, float)
    if cube:
        return np.array([sum(math.comb(int(x), k) for k in range(q + 1)) for x in d], float)
    return np.array([math.comb(int(x) + q, q) for x in d], float)


@dataclass
class Prediction:
    """A predicted n*(d): formula text, asymptotic exponent, the curve (None when none)."""

    formula: str
    asymptotic: float
    curve: Callable[[np.ndarray], np.ndarray] | None


NO_CURVE = {
    TheoryClass.DEEP: "none: no paper gives a finite-d curve for end-to-end deep nets here",
    TheoryClass.NONE: "none: baseline / unknown family",
}


def prediction(task: str, params: dict, info: dict, learner: str, family: str,
               eps: Eps) -> Prediction:
    """The predicted n*(d) of one (task configuration, eps, learner); see the module docstring."""
    cls = theory_class(learner, family)
    params = dict(params or {})
    if cls is TheoryClass.KERNEL:
        deg = task_degrees(task, params, info)
        q = kernel_degree(deg, eps)
        if q is None:
            return Prediction("none: q_low of this task unknown", np.nan, None)
        text = f"sum_k<={q} C(d, k)" if deg.cube else f"C(d+{q}, {q})"
        return Prediction(text, float(q), lambda d, q=q, c=deg.cube: count_polys(d, q, c))
    if cls is TheoryClass.TWO_LAYER:
        if task == "multi_index" and not params.get("pure", False):
            r, p = int(params.get("r", 2)), int(params.get("p", 4))
            return Prediction(f"d^2*{r} + d*{r}^{p} (Damian et al.)", 2.0,
                              lambda d, r=r, p=p: np.asarray(d, float) ** 2 * r + d * r**p)
        if task == "multi_index":
            p = int(params.get("p", 4))
            if p == 2:
                return Prediction("d log d (Ben Arous et al.)", 1.0,
                                  lambda d: np.asarray(d, float) * np.log(d))
            return Prediction(f"d^{p - 1} (Ben Arous et al.)", float(p - 1),
                              lambda d, p=p: np.asarray(d, float) ** (p - 1))
        if task == "staircase":
            D = int(params.get("D", 3))
            leap = D if params.get("kind", "staircase") == "parity" else 1
            e = max(leap - 1, 1)
            return Prediction(f"d^{e} (Abbe et al., leap {leap})", float(e),
                              lambda d, e=e: np.asarray(d, float) ** e)
        return Prediction(f"none: no two-layer result for {task}", np.nan, None)
    if cls is TheoryClass.THREE_LAYER:
        if task == "hier_poly":
            k = int(params.get("k", 2))
            return Prediction(f"d^{k} (Wang, Nichani & Lee)", float(k),
                              lambda d, k=k: np.asarray(d, float) ** k)
        return Prediction(f"none: no layerwise result for {task}", np.nan, None)
    if cls is TheoryClass.DEEP and task == "bfc":
        return Prediction("none: Allen-Zhu & Li prove poly(d), no exponent", np.nan, None)
    return Prediction(NO_CURVE[cls], np.nan, None)


def slope_over(pred: Prediction, ds: np.ndarray) -> float:
    """Least-squares slope of log n_theory(d) on log d over ``ds`` (NaN without a curve)."""
    ds = np.unique(np.asarray(ds, float))
    if pred.curve is None or len(ds) < 2:
        return np.nan
    x, y = np.log(ds), np.log(pred.curve(ds))
    return float(np.polyfit(x, y, 1)[0])


def theory_columns(task: str, params: dict, info: dict, learner: str, family: str, eps: Eps,
                   ds: np.ndarray) -> dict:
    """``theory_slope``, ``theory_asymptotic``, ``theory_formula`` of one exponent row."""
    pred = prediction(task, params, info, learner, family, eps)
    return {"theory_slope": slope_over(pred, ds), "theory_asymptotic": pred.asymptotic,
            "theory_formula": pred.formula}


def pooled_info(g: pd.DataFrame) -> dict:
    """The task_info of a group of records (one task configuration, all its d and seeds) with
    ``energy_by_degree`` replaced by its mean over the group's distinct teachers, taken in
    (d, seed) order: the kernel degree q that theory uses then does not depend on which record
    happens to come first (energies above q_low differ a little between teachers)."""
    rows = g.drop_duplicates(["d", "seed"]).sort_values(["d", "seed"])
    info = dict(rows["task_info"].iloc[0]) if len(rows) else {}
    vecs = [np.asarray(i["energy_by_degree"], float) for i in rows["task_info"]
            if isinstance(i, dict) and i.get("energy_by_degree") is not None]
    if vecs:
        width = max(len(v) for v in vecs)
        info["energy_by_degree"] = np.mean([np.pad(v, (0, width - len(v))) for v in vecs],
                                           axis=0).tolist()
    return info


def theory_table(prep: pd.DataFrame, eps: Eps) -> pd.DataFrame:
    """n_theory(d) per (task_label, label, d) with its formula (for the n*-vs-d figure).

    Columns: task_label, task, label, learner, family, d, n_theory, formula, theory_slope.
    """
    cols = ["task_label", "task", "label", "learner", "family", "d", "n_theory", "formula",
            "theory_slope"]
    rows = []
    if prep.empty:
        return pd.DataFrame(columns=cols)
    for (task_label, label), g in prep.groupby(["task_label", "label"], sort=True):
        f = g.iloc[0]
        pred = prediction(f["task"], f["task_params"], pooled_info(g), f["learner"],
                          f["family"], eps)
        ds = np.sort(g["d"].unique()).astype(float)
        if pred.curve is None:
            continue
        slope = slope_over(pred, ds)
        for d, n in zip(ds, pred.curve(ds), strict=True):
            rows.append((task_label, f["task"], label, f["learner"], f["family"], int(d),
                         float(n), pred.formula, slope))
    return pd.DataFrame(rows, columns=cols)


def kernel_thresholds(task: str, params: dict, info: dict, d: int) -> list[tuple[int, float]]:
    """(q, kappa_q) with kappa_q = log N_q(d) / log d for q = 1 .. degree (the kernel thresholds
    of the kappa = log n / log d picture; degree defaults to q_low + 2 when unknown)."""
    deg = task_degrees(task, params, info)
    top = deg.degree or ((deg.q_low + 2) if deg.q_low is not None else 0)
    if d < 2:
        return []
    return [(q, float(np.log(count_polys([d], q, deg.cube)[0]) / np.log(d)))
            for q in range(1, top + 1)]
