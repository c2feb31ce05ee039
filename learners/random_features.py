"""Random-features regression (``random_features``): a frozen random first layer, a ridge readout.

Two feature maps of width m (rows of W i.i.d. N(0, I_d), drawn from the learner's FEATURES
stream of :mod:`tasks.streams`, seeded by ``random_state``):

* ``relu`` - a two-layer ReLU network with the first layer frozen at its random initialisation
  (the lazy / random-features regime):  phi(x) = relu(W x / (s sqrt(d)) + b_std g) / sqrt(m),
  g ~ N(0, 1); as m -> infinity, phi(x).phi(z) -> the one-hidden-layer NNGP (arc-cosine) kernel.
* ``fourier`` - random Fourier features (Rahimi & Recht 2007):
  phi(x) = sqrt(2 / m) cos(W x / s + u),  u ~ U[0, 2 pi),  phi(x).phi(z) -> exp(-|x - z|^2 / 2 s^2).

The readout f(x) = b + w.phi(x) solves min |Phi w + b - y|^2 + a |w|^2 (b unpenalised) with
a = rel * mean |phi|^2 chosen by exact leave-one-out over ``alpha_grid`` (and s over
``bandwidth_grid`` times the median heuristic for Fourier features), one eigendecomposition of
the smaller Gram matrix per bandwidth (:func:`learners.ridge_tuning.fit_linear_loo`).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from learners import kernels as kz
from learners.base import Family, HierbenchLearner, Resources
from learners.ridge_tuning import default_ridge_grid, fit_linear_loo
from tasks.streams import Stream, seed_int, stream_rng

FEATURES = ("relu", "fourier")


class RandomFeaturesRegressor(HierbenchLearner):
    """Ridge readout on m random ReLU or Fourier features, ridge (and bandwidth) tuned by LOO.

    Parameters: ``features`` in {relu, fourier}; ``n_features`` m (None = min(n, 4000));
    ``b_std`` bias scale of the ReLU features; ``bandwidth`` (None = median heuristic times
    ``bandwidth_grid``: median distance for Fourier, median |x| / sqrt(d) for ReLU);
    ``alpha_grid`` relative ridges; ``memory_limit_gb``; ``random_state``.
    """

    family = Family.NON_HIERARCHICAL
    _parameter_constraints: dict = {
        "features": [StrOptions(set(FEATURES))],
        "n_features": [Interval(Integral, 1, None, closed="left"), None],
        "b_std": [Interval(Real, 0, None, closed="left")],
        "bandwidth": [Interval(Real, 0, None, closed="neither"), None],
        "bandwidth_grid": ["array-like", None],
        "alpha_grid": ["array-like", None],
        "fit_intercept": ["boolean"],
        "memory_limit_gb": [Interval(Real, 0, None, closed="neither")],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(self, features="relu", n_features=None, b_std=0.5, bandwidth=None,
                 bandwidth_grid=None, alpha_grid=None, fit_intercept=True, memory_limit_gb=3.5,
                 random_state=None):
        self.features = features
        self.n_features = n_features
        self.b_std = b_std
        self.bandwidth = bandwidth
        self.bandwidth_grid = bandwidth_grid
        self.alpha_grid = alpha_grid
        self.fit_intercept = fit_intercept
        self.memory_limit_gb = memory_limit_gb
        self.random_state = random_state

    def _width(self, n: int) -> int:
        return int(self.n_features) if self.n_features is not None else int(min(n, 4000))

    def _grid(self):
        if self.bandwidth_grid is not None:
            return np.asarray(self.bandwidth_grid, dtype=float)
        return np.array([0.5, 1.0, 2.0]) if self.features == "fourier" else np.array([1.0])

    def _scale(self, X, rng) -> np.ndarray:
        if self.bandwidth is not None:
            return np.array([float(self.bandwidth)])
        if self.features == "fourier":
            s0 = kz.median_distance(X, rng)
        else:
            s0 = float(np.median(np.linalg.norm(X, axis=1))) / math.sqrt(X.shape[1]) or 1.0
        return s0 * self._grid()

    def featurize(self, X, s: float | None = None) -> np.ndarray:
        """Phi(X), shape (n, m), float64, with the fitted weights (and bandwidth by default)."""
        X = np.asarray(X, dtype=np.float64)
        s = self.bandwidth_ if s is None else s
        Z = X @ self.W_.T
        if self.features == "fourier":
            return math.sqrt(2.0 / self.W_.shape[0]) * np.cos(Z / s + self.u_)
        Z /= s * math.sqrt(X.shape[1])
        Z += self.b_std * self.u_
        return np.maximum(Z, 0.0, out=Z) / math.sqrt(self.W_.shape[0])

    def fit(self, X, y):
        self._validate_params()
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        rng = stream_rng(seed_int(self.random_state), Stream.FEATURES)
        n, d = X.shape
        m = self._width(n)
        self.W_ = rng.standard_normal((m, d))
        self.u_ = (rng.uniform(0, 2 * math.pi, m) if self.features == "fourier"
                   else rng.standard_normal(m))
        rel = default_ridge_grid() if self.alpha_grid is None else np.asarray(self.alpha_grid)
        best = None
        for s in self._scale(X, rng):
            w, b, a, _, loo = fit_linear_loo(self.featurize(X, s), y, rel, self.fit_intercept)
            if best is None or loo.min() < best[4]:
                best = (float(s), w, b, a, float(loo.min()))
        self.bandwidth_, self.coef_, self.intercept_, self.alpha_, loo_best = best
        self.fit_info_ = {"features": self.features, "m": m, "bandwidth": self.bandwidth_,
                          "alpha": self.alpha_, "loo_mse": loo_best, "solver": "eigh",
                          "dtype": "float64"}
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=np.float64)
        out = np.empty(X.shape[0])
        step = kz.block_rows(self.W_.shape[0], 8 * 2)
        for i in range(0, X.shape[0], step):
            out[i:i + step] = self.featurize(X[i:i + step]) @ self.coef_
        return out + self.intercept_

    def resources(self, n, d):
        """Memory: Phi (n m), the Gram of size k = min(n, m) and its eigenvectors, U (n k).

        Time: n m d (features) + n m k (Gram) + 10 k^3 (eigendecomposition), per bandwidth.
        """
        m = self._width(n)
        k = min(n, m)
        nb = 1 if self.bandwidth is not None else len(self._grid())
        mem = 8.0 * (2 * n * m + 3 * k * k + n * k + n * d)
        t = nb * (2.0 * n * m * d + 2.0 * n * m * k + 10.0 * k**3) / 4e10
        return Resources(mem, t)
