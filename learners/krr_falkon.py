"""The ``nystrom`` path of ``krr``: Falkon with m centres, bandwidth and ridge by hold-out on n.

Centres: m = min(n_t, ``max_centers``, 16 sqrt(n), the memory bound) uniformly drawn training
points (or ``n_centers``), so m grows like sqrt(n) up to the stated cap (10 000 by default).
K_nm is stored (float32 past the exact path's cap: 2 GB at n = 100k, m = 5000) when it takes
<= 60 % of the cap, else rebuilt per product; products are float64.

Solver (Rudi, Carratino & Rosasco 2017): (K_mn K_nm + a K_mm) beta = K_mn y by CG on the
split-preconditioned system in u, beta = B u, B = T^{-1} A^{-T}, with K_mm + jitter = T^T T
(T upper) and A A^T = (n / m) T T^T + a_p I: since K_mn K_nm ~ (n / m) K_mm^2 for uniformly
drawn centres, B^T (K_mn K_nm + a_p K_mm) B ~ I.  Two m x m Choleskies and one m x m product per
bandwidth, one m x m Cholesky per batch of ridges (a_p = the batch's smallest ridge; the other
columns of the batch, a <= 10 a_p, see eigenvalues within [1, a / a_p]) - no eigendecomposition
(~25 Choleskies' time at m = 5000).

Ridge search per bandwidth: batches of three neighbouring grid ridges, walking towards the
smallest hold-out error until it is bracketed (and the bottom of the grid is tried when the best
explains less than half the held-out variance, as on the exact path); the next bandwidth starts
at the previous one's best.  The winning pair is solved on all n.

A fit is marked ``approximate`` in ``fit_info`` when its m centres are fewer than the target
needs, by either criterion:

* ``"feature_dim"``: the kernel's feature space is finite (polynomial of degree q: C(d+q, q)
  dimensions) and m is below it, so the model cannot represent every degree-<=q polynomial;
* ``"spectrum"``: the centres' spectrum has not decayed below the chosen ridge,
  (n / m) lambda_min(K_mm) > a (lambda_min by Lanczos on K_mm^{-1} through the Cholesky factor;
  (n / m) lambda_m(K_mm) estimates lambda_m(K_n)): directions beyond the m centres still carry
  eigenvalues above the ridge.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla
import torch

from learners import kernels as kz
from learners.krr_holdout import holdout_size
from learners.nystrom import KnmOperator, batched_pcg, jittered_cholesky
from learners.ridge_tuning import holdout_errors, pick_best

MAX_ITER = 100
#: relative residual of the hold-out solves: a ranking of ridges needs ~1e-4, not the final 1e-5
TUNE_TOL = 1e-4


def knm_operator(kern, X, C, dtype, limit):
    """K_nm stored when it takes <= 60 % of the cap, else rebuilt in blocks per product."""
    itemsize = np.dtype(dtype).itemsize
    if X.shape[0] * C.shape[0] * itemsize <= 0.6 * limit:
        return KnmOperator(torch.from_numpy(kern(X, C, dtype=dtype)), dtype=dtype)
    return KnmOperator(kern=kern, X=X, centres=C, dtype=dtype)


class FalkonSystem:
    """(K_mn K_nm + a K_mm) beta = K_mn y on the rows of ``op``, split-preconditioned."""

    def __init__(self, op: KnmOperator, Kmm: torch.Tensor):
        self.op, self.Kmm = op, Kmm
        self.m = Kmm.shape[0]
        self.Lk = jittered_cholesky(Kmm)  # lower: K_mm + j I = Lk Lk^T, T = Lk^T
        T = self.Lk.T
        self.TTt = (T @ T.T) * (op.n / self.m)
        self.eye = torch.eye(self.m, dtype=torch.float64)

    def _B(self, A, U):  # B U = T^{-1} A^{-T} U
        V = torch.linalg.solve_triangular(A.T, U, upper=True)
        return torch.linalg.solve_triangular(self.Lk.T, V, upper=True)

    def _Bt(self, A, W):  # B^T W = A^{-1} T^{-T} W
        V = torch.linalg.solve_triangular(self.Lk, W, upper=False)
        return torch.linalg.solve_triangular(A, V, upper=False)

    def solve(self, y: torch.Tensor, ridges, *, tol: float):
        """beta (m, r) for the ridges (one preconditioner at the smallest); iterations, conv."""
        ridges = torch.as_tensor(np.asarray(ridges, dtype=np.float64))
        A = torch.linalg.cholesky(self.TTt + float(ridges.min()) * self.eye)
        r = ridges.numel()

        def mv(U, cols):
            V = self._B(A, U)
            return self._Bt(A, self.op.gram(V) + (self.Kmm @ V) * ridges[cols].reshape(1, -1))

        rhs = self._Bt(A, self.op.rmatvec(y.reshape(-1, 1))).expand(-1, r).clone()
        U, its, conv, _ = batched_pcg(mv, lambda R, cols: R, rhs, tol=tol, max_iter=MAX_ITER)
        return self._B(A, U), its.tolist(), conv.tolist()

    def lambda_min(self) -> float:
        """Smallest eigenvalue of K_mm (+ jitter) by Lanczos on its inverse (Cholesky solves)."""
        Lk = self.Lk

        def inv(v):
            x = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64)).reshape(-1, 1)
            return torch.cholesky_solve(x, Lk).numpy().ravel()

        opinv = spla.LinearOperator((self.m, self.m), matvec=inv, dtype=np.float64)
        try:
            mu = spla.eigsh(opinv, k=1, which="LA", tol=1e-3, maxiter=300,
                            return_eigenvectors=False, v0=np.ones(self.m))
        except spla.ArpackNoConvergence as exc:  # the best estimate so far
            mu = exc.eigenvalues if len(exc.eigenvalues) else [np.inf]
        return float(1.0 / mu[0])


def _holdout_pred(op_v_kern, beta):
    kern, Xv, C = op_v_kern
    return kz.kernel_matvec(kern, Xv, C, beta.numpy())


def fit_falkon(est, X, y, kerns, perm, plan, rng, info):
    """Returns (kernel, ridge, centres, coefficients) of the winning pair; fills ``info``."""
    n, d = X.shape
    dtype = np.float32 if plan["itemsize"] == 4 else np.float64
    tuned = len(kerns) > 1 or est.alpha is None
    n_v = holdout_size(n, est.val_fraction) if tuned else 0
    n_t = n - n_v
    Xp, yp = X[perm], torch.from_numpy(y[perm])
    m = min(plan["m"], n_t)
    C = Xp[np.sort(rng.choice(n_t, m, replace=False))]
    tol = est._tol(dtype)
    best, by_bw, hint, its_all = None, {}, None, {}
    for kern in kerns:
        Kmm = torch.from_numpy(kern(C))  # float64: m x m is small, and must be PSD
        ridges = est._ridge_grid(float(torch.diagonal(Kmm).mean()))
        r = len(ridges)
        errors: dict[int, float] = {}
        if n_v:
            sysm = FalkonSystem(knm_operator(kern, Xp[:n_t], C, dtype, est._limit()), Kmm)
            var_v = float(np.var(y[perm][n_t:]))
            pivot = (r // 2 if hint is None else hint)
            for _ in range(r):
                todo = [i for i in (pivot - 1, pivot, pivot + 1)
                        if 0 <= i < r and i not in errors]
                if todo:
                    beta, its, _ = sysm.solve(yp[:n_t], ridges[todo], tol=max(tol, TUNE_TOL))
                    pred = _holdout_pred((kern, Xp[n_t:], C), beta)
                    errs = holdout_errors(pred, y[perm][n_t:])
                    errors.update({i: float(e) for i, e in zip(todo, errs, strict=True)})
                    its_all.update({f"{kern.bandwidth:.3g}/{ridges[i]:.3g}": t
                                    for i, t in zip(todo, its, strict=True)})
                b = min(errors, key=errors.get)
                if b - 1 not in errors and b > 0:
                    pivot = b - 2 if b - 2 >= 0 else b - 1
                elif b + 1 not in errors and b < r - 1:
                    pivot = b + 2 if b + 2 < r else b + 1
                elif 0 not in errors and (b == r - 1 or errors[b] > 0.5 * var_v):
                    pivot = 1
                else:
                    break
            del sysm
            j = pick_best([errors.get(i, np.inf) for i in range(r)])
            err = errors[j]
        else:
            j, err = 0, 0.0
        hint = j
        by_bw[f"{kern.bandwidth:.4g}"] = err
        if best is None or err < best["err"]:
            best = {"kern": kern, "a": float(ridges[j]), "err": err, "Kmm": Kmm,
                    "curve": [[float(ridges[i]), e] for i, e in sorted(errors.items())]}
    kern, a, Kmm = best["kern"], best["a"], best["Kmm"]
    op = knm_operator(kern, Xp, C, dtype, est._limit())
    sysm = FalkonSystem(op, Kmm)
    beta, its, conv = sysm.solve(yp, [a], tol=tol)
    reasons = []
    dim = est._feature_dim(d)
    if dim is not None and m < dim:
        reasons.append("feature_dim")
    lam_m = sysm.lambda_min() * n / m
    if lam_m > a:
        reasons.append("spectrum")
    info.update(solver="falkon", dtype=np.dtype(dtype).name, m=m, n_centres=m, n_val=n_v,
                stored_knm=op.K is not None, holdout_mse=best["err"] if n_v else None,
                holdout_curve=best["curve"], holdout_by_bandwidth=by_bw,
                iterations=its[0], converged=conv[0], holdout_iterations=its_all,
                approximate=bool(reasons), approx_reason=",".join(reasons),
                lambda_m_est=lam_m, tuning="holdout" if n_v else "fixed")
    return kern, a, C, beta[:, 0].numpy()
