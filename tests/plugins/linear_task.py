"""A plugin task: a noiseless linear target y = w.x / |w| (one level), for harness tests."""

import numpy as np

from tasks import Task, register_task
from tasks.base import reference_rng


@register_task("linear")
class LinearTask(Task):
    name = "linear"

    def __init__(self, d, seed=0, noise=0.0):
        super().__init__(d, seed=seed, noise=noise)
        w = reference_rng(self.seed, 0).standard_normal(self.d)
        self.w = w / np.linalg.norm(w)

    def _draw_inputs(self, n, rng):
        return rng.standard_normal((n, self.d))

    def target(self, X):
        return X @ self.w

    def hierarchy(self, X):
        return [self.target(X)[:, None]]

    def level_shares(self):
        return [1.0]
