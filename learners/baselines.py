"""Reference learners: the mean predictor (test error 1 by definition) and tuned linear ridge.

They bracket the interesting range: any learner worse than ``mean`` learned nothing, and ``ridge``
(degree-1 fit, ridge chosen by leave-one-out inside the n samples) shows how much of y* is linear.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.utils._param_validation import Interval

from learners.base import Family, HierbenchLearner, Resources


class EachInInterval(Interval):
    """A scikit-learn parameter constraint on a sequence: non-empty, 1-D, every element inside
    the interval (an ``Interval`` subclass, so that scikit-learn's validation accepts it)."""

    def is_satisfied_by(self, val) -> bool:
        if isinstance(val, (str, bytes)) or np.isscalar(val):
            return False
        try:
            a = np.asarray(val, dtype=float)
        except (TypeError, ValueError):
            return False
        return (a.ndim == 1 and a.size > 0
                and all(super(EachInInterval, self).is_satisfied_by(float(v)) for v in a))

    def __str__(self) -> str:
        one = super().__str__()
        return "a non-empty sequence of " + one.replace("a float in", "floats, each in").replace(
            "an int in", "ints, each in")


class MeanBaseline(HierbenchLearner):
    """Predicts the training mean: f(x) = mean(y_train)."""

    family = Family.BASELINE
    _parameter_constraints: dict = {}

    def fit(self, X, y):
        self._validate_params()
        self.mean_ = float(np.mean(y))
        self.fit_info_ = {}
        return self

    def predict(self, X):
        return np.full(np.asarray(X).shape[0], self.mean_)

    def resources(self, n, d):
        return Resources(memory_bytes=8.0 * n * d, seconds=1e-8 * n * d)


class RidgeBaseline(HierbenchLearner):
    """Linear ridge regression f(x) = w.x + b, ridge from ``alphas`` by efficient leave-one-out."""

    family = Family.BASELINE
    _parameter_constraints: dict = {"alphas": [EachInInterval(Real, 0, None, closed="neither")]}

    def __init__(self, alphas=(1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)):
        self.alphas = alphas

    def fit(self, X, y):
        self._validate_params()
        self.model_ = RidgeCV(alphas=np.asarray(self.alphas, dtype=float)).fit(X, y)
        self.fit_info_ = {"alpha": float(self.model_.alpha_)}
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def resources(self, n, d):
        return Resources(memory_bytes=8.0 * (3 * n * d + d * d), seconds=1e-9 * n * d * d)
