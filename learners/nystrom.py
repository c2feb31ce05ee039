"""Iterative kernel-ridge solvers: batched PCG, a Nystrom preconditioner, products with K_nm.

* :func:`batched_pcg` - preconditioned conjugate gradients on r independent systems at once
  (one per ridge), so that each pass over the kernel matrix serves every ridge (a matrix-matrix
  product instead of r matrix-vector products).
* :class:`NystromPreconditioner` - for the exact system (K + a I) c = y: from m columns
  C = K[:, S] and W = K[S, S], P_a = C W^{-1} C^T + a I, applied by Woodbury.  Since
  K - C W^{-1} C^T is positive semi-definite, eig(P_a^{-1}(K + a I)) lies in
  [1, 1 + lambda_max(K - C W^{-1} C^T) / a].
* :class:`KnmOperator` - products with K_nm (data rows x centres), stored or rebuilt per block,
  for Falkon (:mod:`learners.krr_falkon`).
* :func:`cholesky_inplace`, :class:`CholeskyShiftOps` - a blocked in-place Cholesky and the
  solves at other ridges from one factor.

Vectors are float64 torch tensors; kernel blocks may be float32 (products are cast).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from learners import kernels


def _col(v: torch.Tensor) -> torch.Tensor:
    return v.reshape(1, -1)


def jittered_cholesky(A: torch.Tensor, rel: float = 1e-10) -> torch.Tensor:
    """Lower L with L L^T = A + j I, j = rel m mean(diag A), j x 100 until it succeeds (<= 4x).

    Kernel matrices are positive semi-definite only up to round-off; the jitter is the smallest
    of these that makes the factorisation succeed.
    """
    m = A.shape[0]
    base = float(torch.diagonal(A).mean()) * m
    for k in range(4):
        B = A.clone()
        B.diagonal().add_(rel * 100.0**k * base)
        L, info = torch.linalg.cholesky_ex(B)
        if int(info) == 0:
            return L
    raise torch.linalg.LinAlgError("kernel matrix of the centres is not positive definite")


def batched_pcg(matvec, precond, B: torch.Tensor, *, tol: float, max_iter: int,
                X0: torch.Tensor | None = None):
    """Solve A_j x_j = b_j (j = 0..r-1) by preconditioned CG, all columns in one batch.

    ``matvec(P, cols)`` returns A_j p_j for the columns ``cols`` (a LongTensor of indices into the
    batch); ``precond(R, cols)`` returns M_j^{-1} r_j.  B: (n, r) float64.  A column stops when
    ||b_j - A_j x_j|| <= tol ||b_j||.  Returns (X (n, r), iterations (r,), converged (r,) bool,
    relative residuals (r,)).
    """
    n, r = B.shape
    allc = torch.arange(r)
    X = torch.zeros_like(B) if X0 is None else X0.clone()
    R = B.clone() if X0 is None else B - matvec(X, allc)
    bnorm = B.norm(dim=0).clamp_min(1e-300)
    relres = R.norm(dim=0) / bnorm
    Z = precond(R, allc)
    P = Z.clone()
    rz = (R * Z).sum(0)
    iters = torch.zeros(r, dtype=torch.long)
    dead = torch.zeros(r, dtype=torch.bool)
    for _ in range(max_iter):
        act = torch.nonzero((relres > tol) & ~dead).flatten()
        if act.numel() == 0:
            break
        Pa = P[:, act]
        AP = matvec(Pa, act)
        pap = (Pa * AP).sum(0)
        ok = pap > 0
        dead[act[~ok]] = True
        alpha = torch.where(ok, rz[act] / torch.where(ok, pap, 1.0), 0.0)
        X[:, act] += alpha * Pa
        Ra = R[:, act] - alpha * AP
        R[:, act] = Ra
        relres[act] = Ra.norm(dim=0) / bnorm[act]
        iters[act] += 1
        Za = precond(Ra, act)
        rz_new = (Ra * Za).sum(0)
        beta = rz_new / torch.where(rz[act] != 0, rz[act], 1.0)
        P[:, act] = Za + beta * Pa
        rz[act] = rz_new
    return X, iters, relres <= tol, relres


def shifted_matvec(K: torch.Tensor, ridges: torch.Tensor):
    """matvec(P, cols) = K P + a_cols P for a (possibly float32, possibly strided) K."""

    def mv(P: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return (K @ P.to(K.dtype)).to(torch.float64) + _col(ridges[cols]) * P

    return mv


class NystromPreconditioner:
    """P_a = C W^{-1} C^T + a I from columns C = K[:, S] (n, m) and W = K[S, S] (m, m).

    With W + jitter = L L^T and Bm = C L^{-T} (so C W^{-1} C^T = Bm Bm^T), Woodbury gives
    P_a^{-1} v = (v - Bm (a I + Bm^T Bm)^{-1} Bm^T v) / a, one m x m Cholesky per ridge (no
    eigendecomposition: LAPACK's eigensolvers stall badly on an oversubscribed machine).
    Cost O(n m^2) once, O(n m) per application; memory n m float64.
    """

    def __init__(self, C: torch.Tensor, W: torch.Tensor):
        C, W = C.to(torch.float64), W.to(torch.float64)
        L = jittered_cholesky(W)
        self.Bm = torch.linalg.solve_triangular(L, C.T, upper=False).T  # C L^{-T}
        self.G = self.Bm.T @ self.Bm

    def bind(self, ridges: torch.Tensor):
        """The ``precond(R, cols)`` function for the ridges of the batch."""
        eye = torch.eye(self.G.shape[0], dtype=torch.float64)
        chol = [torch.linalg.cholesky(self.G + float(a) * eye) for a in ridges.tolist()]

        def apply(R: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
            U = self.Bm.T @ R
            U = torch.cat([torch.cholesky_solve(U[:, k:k + 1], chol[j])
                           for k, j in enumerate(cols.tolist())], 1)
            return (R - self.Bm @ U) / _col(ridges[cols])

        return apply


# ---------------------------------------------------------------------------- Falkon
class KnmOperator:
    """Products with K_nm (rows of the data, columns = centres), stored or rebuilt per block.

    Stored: ``K`` is an (n, m) tensor, float32 or float64.  On the fly: ``kern``, ``X`` and
    ``centres`` rebuild row blocks of K_nm at each product (2 n m d flops each).  Arithmetic is
    float64 either way (float32 blocks are widened one block at a time): with small ridges the
    Nystrom coefficients are large and cancel, which float32 sums do not survive.
    """

    def __init__(self, K: torch.Tensor | None = None, kern=None, X=None, centres=None,
                 dtype=np.float32):
        self.K, self.kern, self.X, self.centres = K, kern, X, centres
        self.dtype = np.dtype(dtype)
        self.n = K.shape[0] if K is not None else X.shape[0]
        self.m = K.shape[1] if K is not None else centres.shape[0]

    def rows(self, start: int, stop: int | None = None) -> KnmOperator:
        """The operator restricted to rows ``start:stop`` (a view when K is stored)."""
        if self.K is not None:
            return KnmOperator(self.K[start:stop], dtype=self.dtype)
        return KnmOperator(kern=self.kern, X=self.X[start:stop], centres=self.centres,
                           dtype=self.dtype)

    def _blocks(self, start: int = 0, stop: int | None = None):
        """(row, float64 block of K_nm) over rows ``start:stop`` in row blocks of
        ~``STREAM_BLOCK_BYTES`` (:mod:`learners.kernels`), all written into one reused buffer:
        a block is valid until the next one is produced."""
        stop = self.n if stop is None else stop
        if self.K is not None and self.K.dtype == torch.float64:
            yield start, self.K[start:stop]
            return
        step = kernels.block_rows(self.m, 8, kernels.STREAM_BLOCK_BYTES)
        buf = torch.empty((min(step, stop - start), self.m), dtype=torch.float64)
        for i in range(start, stop, step):
            blk = buf[:min(step, stop - i)]
            if self.K is not None:
                blk.copy_(self.K[i:i + blk.shape[0]])
            else:
                self.kern(self.X[i:i + blk.shape[0]], self.centres, out=blk.numpy())
            yield i, blk

    def _spans(self) -> list[tuple[int, int]]:
        """Contiguous row spans, one per streaming thread (see :meth:`_each_span`).

        Several only for a stored float32 K with >= 4 blocks per thread: a float64 K is one
        product (threaded inside BLAS), and the on-the-fly kernel is not assumed thread-safe."""
        threads = torch.get_num_threads()
        step = kernels.block_rows(self.m, 8, kernels.STREAM_BLOCK_BYTES)
        if (threads == 1 or self.K is None or self.K.dtype == torch.float64
                or self.n < 4 * threads * step):
            return [(0, self.n)]
        cuts = [round(k * self.n / threads) for k in range(threads + 1)]
        return list(zip(cuts[:-1], cuts[1:], strict=True))

    def _each_span(self, work) -> list:
        """``work(start, stop)`` for each span of :meth:`_spans`, one Python thread per span.

        Why threads: a pass streams ~2 MiB blocks through three small BLAS calls each (widen,
        two products), and with two BLAS threads per call the threads' fork/join per call
        costs more than the arithmetic.  One BLAS thread per span, spans run side by side (BLAS
        and torch release the GIL): n = 100k, m = 5000, 2 cores, per pass, 0.335 s against
        0.426 s in one span at one column, 0.57 against 0.61 s at three, equal at eight
        (``benchmarks/bench_kernels.py --threads 2 --gram 100000 5000``).  Each span sums
        its own rows, so a result differs from the one-thread sum only by rounding, and is
        the same on every run with the same thread count.
        """
        spans = self._spans()
        if len(spans) == 1:
            return [work(*spans[0])]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(len(spans)) as pool:
                return list(pool.map(lambda s: work(*s), spans))
        finally:
            torch.set_num_threads(threads)

    def gram(self, W: torch.Tensor) -> torch.Tensor:
        """K_mn K_nm W for W (m, r).

        Formed transposed, W^T K_mn K_nm = sum over row blocks b of (W^T K_b^T) K_b, so that
        both products of a block are wide (r x rows x m) rather than tall-skinny: with the
        block in cache, 0.52 s against 1.20 s per pass at r = 3 (n = 90k, m = 5000, 2 cores;
        ``benchmarks/bench_kernels.py --gram``).
        """
        Wt = W.T.contiguous()

        def work(start, stop):
            out = torch.zeros((W.shape[1], self.m), dtype=torch.float64)
            for _, blk in self._blocks(start, stop):
                out.addmm_(Wt @ blk.T, blk)
            return out

        return sum(self._each_span(work)).T

    def rmatvec(self, U: torch.Tensor) -> torch.Tensor:
        """K_mn U for U (n, r)."""

        def work(start, stop):
            out = torch.zeros((U.shape[1], self.m), dtype=torch.float64)
            for i, blk in self._blocks(start, stop):
                out.addmm_(U[i:i + blk.shape[0]].T, blk)
            return out

        return sum(self._each_span(work)).T

    def matvec(self, V: torch.Tensor) -> torch.Tensor:
        """K_nm V for V (m, r)."""
        Vt = V.T.contiguous()

        def work(start, stop):
            return torch.cat([Vt @ blk.T for _, blk in self._blocks(start, stop)], 1)

        return torch.cat(self._each_span(work), 1).T


# ---------------------------------------------------------------------------- Cholesky
def cholesky_inplace(A: torch.Tensor, block: int = 1024) -> torch.Tensor:
    """Overwrite the symmetric positive definite A (n x n, C-ordered) with its lower Cholesky
    factor L (A = L L^T), zeroing the strict upper triangle; returns A.

    Right-looking blocked algorithm with torch's LAPACK/BLAS (MKL): per block column k,
    L_kk = chol(A_kk), L_ik = A_ik L_kk^{-T}, then A_ij -= L_ik L_jk^T on the lower triangle in
    column panels.  n^3 / 3 flops; extra memory: one (n x block) panel.  In place like LAPACK's
    potrf, but without the bundled OpenBLAS, whose potrf crashed (segfault, 2 threads) on
    matrices of ~3 GB and more on this class of machine.
    """
    n = A.shape[0]
    for k0 in range(0, n, block):
        k1 = min(k0 + block, n)
        Lkk = torch.linalg.cholesky(A[k0:k1, k0:k1])
        A[k0:k1, k0:k1] = Lkk
        A[k0:k1, k1:].zero_()
        if k1 == n:
            break
        P = torch.linalg.solve_triangular(Lkk, A[k1:, k0:k1].T, upper=False).T  # A_ik L^{-T}
        A[k1:, k0:k1] = P
        for j0 in range(k1, n, block):
            j1 = min(j0 + block, n)
            A[j0:, j0:j1].addmm_(P[j0 - k1:], P[j0 - k1:j1 - k1].T, alpha=-1)  # no temporary
    return A


class CholeskyShiftOps:
    """Solves at any ridge a from one Cholesky factor M = K + a0 I = L L^T (L lower, n x n).

    For the leading block t = rows < n_t and v = the rest:

        M_tt V = L11 (L11^T V),  K_vt V = L21 (L11^T V),  M_tt^{-1} R = L11^{-T} (L11^{-1} R),

    with L11 = L[:n_t, :n_t] and L21 = L[n_t:, :n_t] as strided views (no copies); see
    :meth:`shifted_solve` for other ridges.  Cost per product or solve: ~2 n^2 r flops.
    """

    def __init__(self, L: torch.Tensor, n_t: int, a0: float):
        self.L, self.n_t, self.a0, self.n = L, n_t, float(a0), L.shape[0]

    def products(self, V: torch.Tensor, rows: int | None = None):
        """(M_rr V, K_vr V) for V (rows, r); rows = n_t by default."""
        rows = self.n_t if rows is None else rows
        L = self.L[:, :rows]
        W = L @ (L[:rows].T @ V.to(L.dtype))
        W = W.to(torch.float64)
        return W[:rows], W[rows:]

    def solve(self, R: torch.Tensor, rows: int | None = None) -> torch.Tensor:
        """M_rr^{-1} R for R (rows, r); rows = n_t by default.

        Solves with the whole (contiguous) L on [R; 0] - the first block of L^{-1} [R; 0] is
        L11^{-1} R - because a strided L11 would be copied (n_t^2 memory) by the solver.
        """
        rows = self.n_t if rows is None else rows
        Z = torch.zeros((self.n, R.shape[1]), dtype=self.L.dtype)
        Z[:rows] = R
        Z = torch.linalg.solve_triangular(self.L, Z, upper=False)
        Z[rows:] = 0.0
        Z = torch.linalg.solve_triangular(self.L.T, Z, upper=True)
        return Z[:rows].to(torch.float64)

    def shifted_solve(self, B: torch.Tensor, ridges, rows: int, *, tol: float, max_iter: int):
        """(K_rr + a_j I)^{-1} b_j for every ridge, by CG on (I + d_j M_rr^{-1}) c = M_rr^{-1} b_j.

        With d_j = a_j - a0, K_rr + a_j I = M_rr (I + d_j M_rr^{-1}); the operator is symmetric
        with eigenvalues 1 + d_j / (lambda + a0), between 1 and a_j / a0, so CG needs about
        sqrt(max(a_j/a0, a0/a_j)) / 2 ln(2/tol) iterations of two triangular solves each (half
        the passes over L of CG on K_rr + a_j I preconditioned by M_rr^{-1}).  Warm start: the
        a0 solution.
        """
        d = torch.as_tensor(np.asarray(ridges, dtype=np.float64)) - self.a0
        rhs = self.solve(B, rows)

        def mv(P, cols):
            return P + _col(d[cols]) * self.solve(P, rows)

        return batched_pcg(mv, lambda R, cols: R, rhs, tol=tol, max_iter=max_iter, X0=rhs)
