"""Cost model of the kernel-ridge solvers, used to choose between factorising and iterating.

Rates of this class of machine (2 cores): Cholesky / matrix-product rates [flop/s] by itemsize
(``FLOPS``), skinny products n x n by n x r (``FLOPS_SKINNY``) and memory bandwidth [bytes/s]
(``BANDWIDTH``).  Only ratios matter for the choices (iterate while predicted cheaper than a
factorisation); the absolute values feed the resource model the harness schedules with.
"""

from __future__ import annotations

import numpy as np

#: Cholesky / product rates: an in-place Cholesky measured 27-28 GFLOP/s in float64 (n = 8000
#: and 14 400) and 48 GFLOP/s in float32 (n = 8000) on 2 threads, 2026-12-05 (7e10 / 1.5e11
#: before: PCG budgets, which are fractions of a Cholesky's predicted time, came out 2.5x short)
FLOPS = {8: 3e10, 4: 5e10}
FLOPS_SKINNY = 2e10
BANDWIDTH = 1e10
EPS32 = float(np.finfo(np.float32).eps)


def cholesky_seconds(n: int, itemsize: int) -> float:
    """Predicted time of an in-place Cholesky of an n x n matrix: n^3 / 3 flops."""
    return n**3 / 3 / FLOPS[itemsize]


def pass_seconds(rows: int, cols: int, r: int, itemsize: int) -> float:
    """Predicted time of one product of a (rows x cols) matrix with r vectors."""
    return rows * cols * itemsize / BANDWIDTH + 2.0 * rows * cols * r / FLOPS_SKINNY


def build_seconds(rows: int, cols: int, d: int, itemsize: int) -> float:
    """Predicted time of building a (rows x cols) kernel block: one Gram product + elementwise."""
    return 2.0 * rows * cols * d / FLOPS[itemsize] + rows * cols * itemsize / BANDWIDTH * 4


def precond_m(n_t: int, m_sub: int = 1000) -> int:
    """Columns of the exact path's Nystrom preconditioner: n_t / 4, at most half the spectrum
    probe (whose spectrum predicts the iteration counts only well below its size)."""
    return int(min(m_sub // 2, max(1, n_t // 4)))


def pcg_iterations(spec: np.ndarray, n: int, a: float, rows: int, tol: float) -> float:
    """Predicted PCG iterations on K_rows + a I with a Nystrom preconditioner of m_p columns.

    ``spec`` is the spectrum of K_n (decreasing) predicted from the probe subsample.
    kappa ~ 1 + 2 lambda_{m_p}(K_rows) / a (the residual of the Nystrom approximation is of the
    order of the first eigenvalue it leaves out); iterations ~ sqrt(kappa) / 2 ln(2 / tol) + 2.
    """
    mp = precond_m(rows, len(spec))
    lam = float(spec[min(mp, len(spec) - 1)]) * rows / n
    return 0.5 * np.sqrt(1.0 + 2.0 * lam / a) * np.log(2.0 / tol) + 2.0


def pcg_iteration_seconds(rows: int, r: int, itemsize: int, m_sub: int) -> float:
    """One batched Nystrom-PCG iteration with r right-hand sides on a rows x rows block."""
    mp = precond_m(rows, m_sub)
    return pass_seconds(rows, rows, r, itemsize) + 4.0 * rows * mp * r / FLOPS_SKINNY
