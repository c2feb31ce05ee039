"""Example plugin task: a sparse product of k Gaussian coordinates, y = x_{s_1} x_{s_2} ... x_{s_k}.

    hierbench run my_spec.toml --plugin examples/my_task.py

The support S = {s_1, ..., s_k} is drawn from the seed.  For x ~ N(0, I_d), E[y] = 0 and
E[y^2] = prod E[x_i^2] = 1, so y is already normalised.  y is a degree-k polynomial (the Hermite
product He_1(x_{s_1}) ... He_1(x_{s_k})) and orthogonal to every polynomial of lower degree, so a
rotation-invariant kernel needs n ~ d^k samples (the degree-k lower bound for kernels; see e.g.
Ghorbani et al. 2021).  The hierarchy has one level per partial product x_{s_1}...x_{s_j}: a
staircase-like decomposition used here only for diagnostics; all the variance sits in the top level.
"""

from __future__ import annotations

import numpy as np

from tasks import Task, register_task
from tasks.base import reference_rng


@register_task("sparse_product")
class SparseProductTask(Task):
    name = "sparse_product"
    index_param = "k"

    def __init__(self, d, seed=0, noise=0.0, k=2):
        super().__init__(d, seed=seed, noise=noise)
        if not 1 <= int(k) <= self.d:
            raise ValueError(f"sparse_product: k must be in [1, d={self.d}], got {k}")
        self.k = int(k)
        self.support = np.sort(reference_rng(self.seed, 0).choice(self.d, self.k, replace=False))

    @property
    def degree(self):
        """y is a polynomial of degree k (a spec's ``degree = "task"`` becomes k)."""
        return self.k

    @classmethod
    def degree_of(cls, d, params):
        """The same degree read from the parameters, without building the task."""
        return int(cls.param_value(params, "k"))

    def _draw_inputs(self, n, rng):
        return rng.standard_normal((n, self.d))

    def target(self, X):
        return np.prod(X[:, self.support], axis=1)

    def hierarchy(self, X):
        partial = np.cumprod(X[:, self.support], axis=1)
        return [partial[:, j : j + 1] for j in range(self.k)]

    def level_shares(self):
        return [0.0] * (self.k - 1) + [1.0]

    def theory_exponents(self):
        return {"non-hierarchical": float(self.k)}
