"""Linear (ridge) probes: how well a hidden representation encodes a set of target features.

Setting.  A representation H (n, p) (e.g. a block's post-activation outputs) and a group of
target features F (n, k) (e.g. one teacher level), each split into a probe-train part (fit) and a
probe-test part (score).  The probe is ridge regression with a free intercept on the standardised
representation:

    Z = (H - mean_tr(H)) / sd_tr(H)               (per column, probe-train statistics;
                                                   columns with sd_tr ~ 0 are dropped)
    (b, B) = argmin ||F_tr - 1 b^T - Z_tr B||_F^2 + alpha ||B||_F^2.

The ridge strength is alpha = n_tr * lambda with lambda from a log grid (``LAMBDAS``; lambda is
the penalty on the *mean* squared error, so the grid does not depend on n), chosen per feature
group by exact leave-one-out error on probe-train (one alpha per group, pooled over its k
outputs: the criterion of scikit-learn's ``RidgeCV`` with its efficient LOO).  With the thin SVD
Z_tr = U diag(s) V^T, the fit is F_hat = 1 mean(F_tr)^T + U diag(s^2 / (s^2 + alpha)) U^T F_c and
the leave-one-out residual of row i is r_i / (1 - h_i), h_i = 1/n_tr + sum_j U_ij^2 s_j^2 /
(s_j^2 + alpha) (exact for a penalty that leaves the intercept free).

Score (pooled R^2 over the k outputs, on probe-test, with the probe-test mean as the reference):

    R^2 = 1 - sum_{i, c} (F_ic - F_hat_ic)^2 / sum_{i, c} (F_ic - mean_test(F_c))^2.

R^2 = 1: the features are a linear function of the representation; R^2 ~ 0: no linear
information (a held-out score can be slightly negative).  Pooling weights the k outputs by their
variance; the teacher's level features are standardised, so this is the mean of the per-feature
R^2 values up to the test set's sample variances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: penalty on the mean squared error (alpha = n_tr * lambda), searched by leave-one-out
LAMBDAS = tuple(float(v) for v in np.logspace(-6, 1, 15))
#: columns whose probe-train standard deviation is below this times the largest one are dropped
SD_TOL = 1e-10


@dataclass
class ProbeFit:
    """A fitted ridge probe for several feature groups sharing one representation."""

    mean: np.ndarray          # (p,) probe-train column means
    sd: np.ndarray            # (p,) probe-train column sds (inf for dropped columns)
    intercepts: np.ndarray    # (K,) all output columns of all groups
    coef: np.ndarray          # (p, K)
    lambdas: list[float]      # chosen lambda per group
    groups: list[slice]       # output columns of each group

    def predict(self, H: np.ndarray) -> np.ndarray:
        """F_hat (n, K) for a representation H (n, p)."""
        return self.intercepts + ((H - self.mean) / self.sd) @ self.coef


def _standardise(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and sds of H; near-constant columns get sd = inf (they become 0)."""
    mean = H.mean(axis=0)
    sd = H.std(axis=0)
    top = float(sd.max()) if sd.size else 0.0
    sd = np.where(sd > SD_TOL * max(top, 1e-300), sd, np.inf)
    return mean, sd


def fit_probe(H: np.ndarray, targets: Sequence[np.ndarray],
              lambdas: Sequence[float] = LAMBDAS) -> ProbeFit:
    """Ridge probe from H (n, p) to each group F_g (n, k_g), lambda per group by exact LOO."""
    H = np.asarray(H, dtype=np.float64)
    F = np.hstack([np.asarray(t, dtype=np.float64).reshape(len(H), -1) for t in targets])
    sizes = [np.asarray(t).reshape(len(H), -1).shape[1] for t in targets]
    bounds = np.cumsum([0] + sizes)
    groups = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    n = H.shape[0]
    mean, sd = _standardise(H)
    Z = (H - mean) / sd
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    keep = s > SD_TOL * max(float(s.max()) if s.size else 0.0, 1e-300)
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    f_mean = F.mean(axis=0)
    A = U.T @ (F - f_mean)                                     # (r, K)
    s2 = s**2
    best_err = np.full(len(groups), np.inf)
    best_lam = np.full(len(groups), float(lambdas[0]))
    resid0 = F - f_mean
    for lam in lambdas:
        shrink = s2 / (s2 + n * lam)                           # (r,)
        fitted = U @ (shrink[:, None] * A)                     # centred fit, (n, K)
        h = 1.0 / n + (U**2) @ shrink                          # hat diagonal, (n,)
        loo = (resid0 - fitted) / np.maximum(1.0 - h, 1e-12)[:, None]
        err = np.array([np.sum(loo[:, g] ** 2) for g in groups])
        better = err < best_err
        best_err[better], best_lam[better] = err[better], lam
    coef = np.zeros((H.shape[1], F.shape[1]))
    for g, lam in zip(groups, best_lam, strict=True):
        w = s / (s2 + n * lam)
        coef[:, g] = Vt.T @ (w[:, None] * A[:, g])
    return ProbeFit(mean, sd, f_mean, coef, [float(v) for v in best_lam], groups)


def pooled_r2(F: np.ndarray, F_hat: np.ndarray) -> float:
    """1 - sum (F - F_hat)^2 / sum (F - mean(F))^2 over all rows and columns (module doc)."""
    F = np.asarray(F, dtype=np.float64).reshape(len(F), -1)
    F_hat = np.asarray(F_hat, dtype=np.float64).reshape(F.shape)
    sst = float(np.sum((F - F.mean(axis=0)) ** 2))
    if sst <= 0.0:
        return float("nan")
    return 1.0 - float(np.sum((F - F_hat) ** 2)) / sst


def probe_r2(H_train: np.ndarray, targets_train: Sequence[np.ndarray], H_test: np.ndarray,
             targets_test: Sequence[np.ndarray],
             lambdas: Sequence[float] = LAMBDAS) -> tuple[np.ndarray, list[float]]:
    """Held-out pooled R^2 of the probe from H to each target group, and the chosen lambdas.

    A representation with non-finite entries (a diverged net) scores NaN for every group.
    """
    H_train = np.asarray(H_train, dtype=np.float64)
    H_test = np.asarray(H_test, dtype=np.float64)
    if not (np.all(np.isfinite(H_train)) and np.all(np.isfinite(H_test))):
        return np.full(len(targets_train), np.nan), [float("nan")] * len(targets_train)
    fit = fit_probe(H_train, targets_train, lambdas)
    pred = fit.predict(H_test)
    r2 = np.array([pooled_r2(t, pred[:, g]) for t, g in zip(targets_test, fit.groups,
                                                             strict=True)])
    return r2, fit.lambdas


def probe_matrix(reps_train: Sequence[np.ndarray], targets_train: Sequence[np.ndarray],
                 reps_test: Sequence[np.ndarray], targets_test: Sequence[np.ndarray],
                 lambdas: Sequence[float] = LAMBDAS) -> np.ndarray:
    """R^2 matrix (n_reps, n_targets): entry (b, l) probes target group l from representation b."""
    rows = [probe_r2(Htr, targets_train, Hte, targets_test, lambdas)[0]
            for Htr, Hte in zip(reps_train, reps_test, strict=True)]
    return np.vstack(rows) if rows else np.zeros((0, len(targets_train)))
