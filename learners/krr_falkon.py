"""The ``nystrom`` path of ``krr``: Falkon with m centres, bandwidth and ridge by hold-out on n.

Centres: m = min(n_t, ``max_centers``, 16 sqrt(n), the memory bound) uniformly drawn training
points (or ``n_centers``), so m grows like sqrt(n) up to the stated cap (10 000 by default).
K_nm is stored (float32 past the exact path's cap: 2 GB at n = 100k, m = 5000) when it takes
<= 60 % of the cap, else rebuilt per product; products are float64.

Solver (Rudi, Carratino & Rosasco 2017): (K_mn K_nm + a K_mm) beta = K_mn y by CG on the
split-preconditioned system in u, beta = B u, B = T^{-1} A^{-T}, with K_mm + jitter = T^T T
(T upper) and A A^T = (n / m) T T^T + a_p I: since K_mn K_nm ~ (n / m) K_mm^2 for uniformly
drawn centres, B^T (K_mn K_nm + a_p K_mm) B ~ I.  Per bandwidth: one float64 m x m Cholesky of
K_mm and T T^T = Lk^T Lk by triangular blocks in float32 (:class:`CentreFactors`, shared by the
hold-out fits and the final solve; why float32 is safe there: its docstring); one float32
m x m Cholesky per batch of ridges (a_p = the batch's smallest ridge; the
other columns of the batch, a <= 10 a_p, see eigenvalues within [1, a / a_p]) - no
eigendecomposition (~25 Choleskies' time at m = 5000).  Each CG iteration is one pass over K_nm
(:meth:`learners.nystrom.KnmOperator.gram`) for all ridges of the batch.

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
  eigenvalues above the ridge.  Lanczos (~2 s at m = 5000) runs only when the free upper bound
  min_i Lk_ii^2 >= lambda_min does not already settle it (``fit_info`` then has
  ``lambda_m_est`` = None and ``lambda_m_bound`` <= a).
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
#: hold-out errors within this relative margin are ties, broken towards the larger ridge: at
#: residual TUNE_TOL smaller differences are solver noise, and letting them steer the ridge walk
#: sent it down flat stretches of the curve (n = 100k: 10 batches of ridges instead of 6)
TIE_RTOL = 1e-3


def _best(errors: dict[int, float]) -> int:
    """Grid index of the smallest hold-out error, ties (``TIE_RTOL``) to the larger ridge."""
    return pick_best([errors.get(i, np.inf) for i in range(max(errors) + 1)], rtol=TIE_RTOL)


def knm_operator(kern, X, C, dtype, limit):
    """K_nm stored when it takes <= 60 % of the cap, else rebuilt in blocks per product."""
    itemsize = np.dtype(dtype).itemsize
    if X.shape[0] * C.shape[0] * itemsize <= 0.6 * limit:
        return KnmOperator(torch.from_numpy(kern(X, C, dtype=dtype)), dtype=dtype)
    return KnmOperator(kern=kern, X=X, centres=C, dtype=dtype)


def centre_operators(kern, X, C, dtype, limit) -> tuple[KnmOperator, CentreFactors]:
    """K_nm (rows X, centres C) and the centres' factors at one bandwidth."""
    return (knm_operator(kern, X, C, dtype, limit),
            CentreFactors(torch.from_numpy(kern(C))))  # float64: m x m is small, must be PSD


def lower_gram(L: torch.Tensor, block: int = 512) -> torch.Tensor:
    """The lower triangle of P = L^T L for a lower-triangular L (m x m): the blocks of P on and
    below its block diagonal, the rest zero (a Cholesky factorisation of P reads only its
    lower triangle).  Row block k of L has no entries right of its last row k1, so
    P[j0:k1, j0:j1] += L[k0:k1, j0:k1]^T L[k0:k1, j0:j1] for the column panels j0 < k1:
    ~m^3 / 3 flops, a sixth of a dense product's (m = 5000, float32, 2 cores: 1.0 s, against
    1.4 s for whole squares P[:k1, :k1] and 7.4 s in float64 for a dense product)."""
    m = L.shape[0]
    P = torch.zeros_like(L)
    for k0 in range(0, m, block):
        k1 = min(k0 + block, m)
        for j0 in range(0, k1, block):
            j1 = min(j0 + block, k1)
            P[j0:k1, j0:j1].addmm_(L[k0:k1, j0:k1].T, L[k0:k1, j0:j1])
    return P


class CentreFactors:
    """What Falkon needs of the centres at one bandwidth, for any rows: K_mm (float64), its
    jittered Cholesky factor Lk (K_mm + j I = Lk Lk^T, T = Lk^T, float64) and the lower triangle
    of T T^T = Lk^T Lk in float32 (for :meth:`precond_factor` only).

    Why float32 is enough there: B = T^{-1} A^{-T} only preconditions - any fixed nonsingular
    B gives the same beta, since the system's own matrix K_mn K_nm + a K_mm is formed from
    K_nm and the float64 K_mm - so A's round-off can only change the iteration count.
    Measured (n = 30k, m = 2000, tol 1e-5, cold start): the same counts with A from float32
    as from float64, to +-1, at ridges 1e-7 ... 0.1 (rbf) and 1e-5 ... 10 (polynomial of
    degree 4), and at n = 100k, m = 5000 (15 iterations, beta within 3e-7).  Lk stays
    float64: from a float32 K_mm it needs a jitter ~1e-7 m mean(diag K_mm), and the same
    n = 100k solve then took 52 iterations.  Time at m = 5000, 2 cores: T T^T 1.0 s
    (2.8 s in float64 before :func:`lower_gram` kept to the lower triangle), the Cholesky of A
    0.9 s (1.6 s).
    """

    def __init__(self, Kmm: torch.Tensor):
        self.Kmm, self.m = Kmm, Kmm.shape[0]
        self.Lk = jittered_cholesky(Kmm)
        self.TTt = lower_gram(self.Lk.to(torch.float32))

    def precond_factor(self, scale: float, a: float) -> torch.Tensor:
        """Lower A (float64 values) with A A^T = scale T T^T + a I, factorised in float32;
        in float64 from a float64 T T^T when the float32 factorisation fails."""
        M = self.TTt * scale
        M.diagonal().add_(a)
        A, info = torch.linalg.cholesky_ex(M)
        if int(info) == 0:
            return A.to(torch.float64)
        M = lower_gram(self.Lk).mul_(scale)
        M.diagonal().add_(a)
        return torch.linalg.cholesky(M)

    def lambda_min_bound(self) -> float:
        """An upper bound on lambda_min(K_mm + jitter) for free: min_i Lk_ii^2 (each squared
        pivot is 1 / ((A_i)^{-1})_ii >= lambda_min(A_i) >= lambda_min(A), A_i the leading
        i x i block, by interlacing)."""
        return float(torch.diagonal(self.Lk).square().min())

    def lambda_min(self) -> float:
        """Smallest eigenvalue of K_mm (+ jitter) by Lanczos on its inverse (Cholesky solves);
        a relative accuracy of 1e-2 is ample for comparing it with a ridge."""
        Lk = self.Lk

        def inv(v):
            x = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64)).reshape(-1, 1)
            return torch.cholesky_solve(x, Lk).numpy().ravel()

        opinv = spla.LinearOperator((self.m, self.m), matvec=inv, dtype=np.float64)
        try:
            mu = spla.eigsh(opinv, k=1, which="LA", tol=1e-2, maxiter=300,
                            return_eigenvectors=False, v0=np.ones(self.m))
        except spla.ArpackNoConvergence as exc:  # the best estimate so far
            mu = exc.eigenvalues if len(exc.eigenvalues) else [np.inf]
        return float(1.0 / mu[0])


class FalkonSystem:
    """(K_mn K_nm + a K_mm) beta = K_mn y on the rows of ``op``, split-preconditioned."""

    def __init__(self, op: KnmOperator, f: CentreFactors):
        self.op, self.f = op, f
        self.scale = op.n / f.m

    def _B(self, A, U):  # B U = T^{-1} A^{-T} U
        V = torch.linalg.solve_triangular(A.T, U, upper=True)
        return torch.linalg.solve_triangular(self.f.Lk.T, V, upper=True)

    def _Bt(self, A, W):  # B^T W = A^{-1} T^{-T} W
        V = torch.linalg.solve_triangular(self.f.Lk, W, upper=False)
        return torch.linalg.solve_triangular(A, V, upper=False)

    def solve(self, y: torch.Tensor, ridges, *, tol: float, beta0: torch.Tensor | None = None):
        """beta (m, r) for the ridges (one preconditioner at the smallest); iterations, conv.

        ``beta0`` (m, r): a starting point (u0 = B^{-1} beta0 = A^T T beta0)."""
        f = self.f
        ridges = torch.as_tensor(np.asarray(ridges, dtype=np.float64))
        A = f.precond_factor(self.scale, float(ridges.min()))
        r = ridges.numel()

        def mv(U, cols):
            V = self._B(A, U)
            return self._Bt(A, self.op.gram(V) + (f.Kmm @ V) * ridges[cols].reshape(1, -1))

        rhs = self._Bt(A, self.op.rmatvec(y.reshape(-1, 1))).expand(-1, r).clone()
        U0 = None if beta0 is None else A.T @ (f.Lk.T @ beta0)
        U, its, conv, _ = batched_pcg(mv, lambda R, cols: R, rhs, tol=tol, max_iter=MAX_ITER,
                                      X0=U0)
        return self._B(A, U), its.tolist(), conv.tolist()


def fit_falkon(est, X, y, kerns, perm, plan, rng, info):
    """Returns (kernel, ridge, centres, coefficients) of the winning pair; fills ``info``.

    Per bandwidth, K_nm is built once on all n rows (in hold-out order): its first n_t rows
    train the hold-out fits (held-out predictions use float64 kernel values), and the winning
    bandwidth's operator and centre factors are reused by the final solve when it is the last
    one tried (else rebuilt: two K_nm at once would double the memory).  The final solve
    starts from the hold-out fit's coefficients at the winning pair.
    """
    n, d = X.shape
    dtype = np.float32 if plan["itemsize"] == 4 else np.float64
    tuned = len(kerns) > 1 or est.alpha is None
    n_v = holdout_size(n, est.val_fraction) if tuned else 0
    n_t = n - n_v
    Xp, yp = X[perm], torch.from_numpy(y[perm])
    y_v = y[perm][n_t:]
    m = min(plan["m"], n_t)
    C = Xp[np.sort(rng.choice(n_t, m, replace=False))]
    tol = est._tol(dtype)
    best, by_bw, hint, its_all = None, {}, None, {}
    for kern in kerns:
        op = fac = None  # one K_nm at a time: drop the last before building the next
        op, fac = centre_operators(kern, Xp, C, dtype, est._limit())
        ridges = est._ridge_grid(float(torch.diagonal(fac.Kmm).mean()))
        r = len(ridges)
        errors: dict[int, float] = {}
        betas: dict[int, torch.Tensor] = {}
        if n_v:
            sysm = FalkonSystem(op.rows(0, n_t), fac)
            var_v = float(np.var(y_v))
            pivot = (r // 2 if hint is None else hint)
            for _ in range(r):
                todo = [i for i in (pivot - 1, pivot, pivot + 1)
                        if 0 <= i < r and i not in errors]
                if todo:
                    beta, its, _ = sysm.solve(yp[:n_t], ridges[todo], tol=max(tol, TUNE_TOL))
                    # predicted as ``predict`` will: float64 kernel values (the stored
                    # float32 K_vm would add round-off x |beta|, large at small ridges)
                    errs = holdout_errors(kz.kernel_matvec(kern, Xp[n_t:], C, beta.numpy()),
                                          y_v)
                    errors.update({i: float(e) for i, e in zip(todo, errs, strict=True)})
                    betas.update({i: beta[:, k:k + 1] for k, i in enumerate(todo)})
                    its_all.update({f"{kern.bandwidth:.3g}/{ridges[i]:.3g}": t
                                    for i, t in zip(todo, its, strict=True)})
                b = _best(errors)
                if b - 1 not in errors and b > 0:
                    pivot = b - 2 if b - 2 >= 0 else b - 1
                elif b + 1 not in errors and b < r - 1:
                    pivot = b + 2 if b + 2 < r else b + 1
                elif 0 not in errors and (b == r - 1 or errors[b] > 0.5 * var_v):
                    pivot = 1
                else:
                    break
            sysm = None  # it holds a view of K_nm: drop it before the next one is built
            j = _best(errors)
            err = errors[j]
        else:
            j, err = 0, 0.0
        hint = j
        by_bw[f"{kern.bandwidth:.4g}"] = err
        if best is None or err < best["err"]:
            best = {"kern": kern, "a": float(ridges[j]), "err": err, "beta0": betas.get(j),
                    "curve": [[float(ridges[i]), e] for i, e in sorted(errors.items())]}
    kern, a = best["kern"], best["a"]
    reused = kern is kerns[-1]
    if not reused:
        op = fac = None
        op, fac = centre_operators(kern, Xp, C, dtype, est._limit())
    beta, its, conv = FalkonSystem(op, fac).solve(yp, [a], tol=tol, beta0=best["beta0"])
    reasons = []
    dim = est._feature_dim(d)
    if dim is not None and m < dim:
        reasons.append("feature_dim")
    # the bound settles the common case (spectrum far below the ridge) without Lanczos
    lam_bound = fac.lambda_min_bound() * n / m
    lam_m = fac.lambda_min() * n / m if lam_bound > a else None
    if lam_m is not None and lam_m > a:
        reasons.append("spectrum")
    info.update(solver="falkon", dtype=np.dtype(dtype).name, m=m, n_centres=m, n_val=n_v,
                stored_knm=op.K is not None, holdout_mse=best["err"] if n_v else None,
                holdout_curve=best["curve"], holdout_by_bandwidth=by_bw,
                iterations=its[0], converged=conv[0], holdout_iterations=its_all,
                warm_start=best["beta0"] is not None, reused_knm=reused,
                approximate=bool(reasons), approx_reason=",".join(reasons),
                lambda_m_est=lam_m, lambda_m_bound=lam_bound, tuning="holdout" if n_v else "fixed")
    return kern, a, C, beta[:, 0].numpy()
