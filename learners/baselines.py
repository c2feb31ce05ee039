"""Reference learners: the mean predictor (test error 1 by definition) and tuned linear ridge.

They bracket the interesting range: any learner worse than ``mean`` learned nothing, and ``ridge``
(degree-1 fit, ridge chosen by leave-one-out inside the n samples) shows how much of y* is linear.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import RidgeCV

from learners.base import HierbenchLearner, Resources


class MeanBaseline(HierbenchLearner):
    """Predicts the training mean: f(x) = mean(y_train)."""

    family = "baseline"

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        self.fit_info_ = {}
        return self

    def predict(self, X):
        return np.full(np.asarray(X).shape[0], self.mean_)

    def resources(self, n, d):
        return Resources(memory_bytes=8.0 * n * d, seconds=1e-8 * n * d)


class RidgeBaseline(HierbenchLearner):
    """Linear ridge regression f(x) = w.x + b, ridge from ``alphas`` by efficient leave-one-out."""

    family = "baseline"

    def __init__(self, alphas=(1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)):
        self.alphas = alphas

    def fit(self, X, y):
        self.model_ = RidgeCV(alphas=np.asarray(self.alphas, dtype=float)).fit(X, y)
        self.fit_info_ = {"alpha": float(self.model_.alpha_)}
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def resources(self, n, d):
        return Resources(memory_bytes=8.0 * (3 * n * d + d * d), seconds=1e-9 * n * d * d)
