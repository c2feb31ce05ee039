"""Example plugin learner: k-nearest-neighbour regression with k tuned inside the n samples.

Use it without installing anything:

    hierbench run my_spec.toml --plugin examples/my_learner.py

(or register it through the ``hierbench.learners`` entry-point group of your own package; see
docs/plugins.md).  It shows the three things hierbench reads from a learner beyond scikit-learn's
``fit``/``predict``: ``family``, ``resources(n, d)`` and ``fit_info_``.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsRegressor

from learners import register_learner
from learners.base import HierbenchLearner, Resources, train_val_split
from tasks.streams import Stream, seed_int, stream_rng


@register_learner("knn")
class KNNLearner(HierbenchLearner):
    """f(x) = mean of y over the k nearest training inputs (Euclidean).

    k is chosen from ``k_grid`` on a hold-out split of ``val_fraction`` of the n samples, then the
    model is refitted on all n.  Memory: the n x d training set plus one (block x n) distance block.
    """

    family = "non-hierarchical"

    def __init__(self, k_grid=(1, 2, 4, 8, 16, 32), val_fraction=0.2, random_state=None):
        self.k_grid = k_grid
        self.val_fraction = val_fraction
        self.random_state = random_state

    def fit(self, X, y):
        # the learner's own SPLIT stream: independent of the training and test data streams
        rng = stream_rng(seed_int(self.random_state), Stream.SPLIT)
        X_tr, y_tr, X_val, y_val = train_val_split(X, y, self.val_fraction, rng)
        ks = [k for k in self.k_grid if k <= len(X_tr)] or [1]
        errors = {k: float(np.mean((KNeighborsRegressor(k).fit(X_tr, y_tr).predict(X_val)
                                    - y_val) ** 2)) for k in ks}
        best = min(errors, key=errors.get)
        self.model_ = KNeighborsRegressor(best).fit(X, y)
        self.fit_info_ = {"k": best, "val_mse": errors}
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def resources(self, n, d):
        return Resources(memory_bytes=8.0 * (n * d + 1024 * n), seconds=1e-8 * n * n * d)
