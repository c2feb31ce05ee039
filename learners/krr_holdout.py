"""Hold-out scoring of every ridge at one bandwidth on the full n, and the final solve.

The n samples are put in a random order; the first n_t rows train and the last n_v = n - n_t
rows validate.  For one kernel (one bandwidth) :class:`HoldoutScorer` holds K (n x n, that
order) and returns the hold-out error

    E(a) = mean_v (y_v - K_vt (K_tt + a I)^{-1} y_t)^2

for the ridges of the grid it needs, with at most a few factorisations:

1. batched Nystrom-PCG (:func:`learners.nystrom.batched_pcg`) scores, in one pass over K_tt per
   iteration, every ridge it is predicted to solve within half a Cholesky's time (the large
   ridges; noisy targets usually have their minimum there), with m_p Nystrom columns (half
   the spectrum probe, up to 1000);
1b. while the best of those is at the edge of the scored set, its neighbour is scored by
   one-column PCG warm-started from it, within one Cholesky's predicted time
   (:meth:`HoldoutScorer.pcg_extend`);
2. unless that brackets the minimum, K_tt + a0 I is factorised IN PLACE in K's top-left block
   (K_vt, the bottom-left block, stays intact) at a pivot a0, and the ridges within a factor
   ``REACH_RATIO`` of a0 are scored by CG on (I + (a - a0) M^{-1}) c = M^{-1} y_t, M = K_tt + a0 I
   (eigenvalues between 1 and a / a0, so ~sqrt(a / a0) / 2 ln(2 / tol) iterations);
3. while the best ridge is at the edge of what is scored, K is rebuilt and factorised again at
   a pivot beyond that edge (or at the bottom of the grid when the minimum probably lies far
   below, :meth:`HoldoutScorer.far_below`); and when the best explains little (see
   :meth:`HoldoutScorer._next_pivot`) the bottom of the grid is scored too, as is the previous
   bandwidth's best (at most ``MAX_FACTORS`` factorisations per bandwidth).

Written by hand because no library scores a ridge path from one factor without an
eigendecomposition (which costs ~25 Choleskies at n = 4000 on this class of machine).
:func:`solve_full` then solves (K + a I) c = y on all n at the chosen (bandwidth, ridge), by
Nystrom-PCG warm-started from the training block's solution when predicted cheaper than a
Cholesky, else by an in-place Cholesky.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from learners import krr_cost as cost
from learners.nystrom import (
    CholeskyShiftOps,
    NystromPreconditioner,
    batched_pcg,
    cholesky_inplace,
    shifted_matvec,
)
from learners.ridge_tuning import holdout_errors

#: relative residual for hold-out scoring (noise-free targets have hold-out errors ~1e-5 of
#: Var(y), which a looser residual would blur)
TUNE_TOL = 1e-6
#: factor-PCG scores ridges with max(a / a0, a0 / a) <= REACH_RATIO (<= ~60 CG iterations)
REACH_RATIO = 68.0
MAX_FACTORS = 4
BLOCK = 1024


def holdout_size(n: int, val_fraction) -> int:
    """n_v: ``val_fraction`` x n, or by default max(0.1 n, min(0.2 n, 500)) - 20 % at small n,
    10 % at large n (500 held-out points pin a hold-out MSE to ~6 %, and a larger training block
    keeps the tuning close to the n it is for)."""
    if val_fraction is None:
        n_v = max(0.1 * n, min(0.2 * n, 500.0))
    else:
        n_v = float(val_fraction) * n
    return int(min(max(1, round(n_v)), n - 1))


def _col(v: torch.Tensor) -> torch.Tensor:
    return v.reshape(1, -1)


def tri_solve(L: torch.Tensor, B: torch.Tensor, *, transpose: bool, diag=None) -> torch.Tensor:
    """L^{-1} B (or L^{-T} B) for a lower-triangular L that may be a strided view of a larger
    matrix, by blocks of ``BLOCK`` rows: only the BLOCK x BLOCK diagonal blocks are copied (a
    strided L would otherwise be copied whole by the LAPACK wrapper); ``diag`` may hold those
    copies already (:class:`BlockFactor` keeps them)."""
    n = L.shape[0]
    X = B.to(L.dtype).clone()
    starts = list(range(0, n, BLOCK))
    if diag is None:
        diag = [L[k0:k0 + BLOCK, k0:k0 + BLOCK].clone() for k0 in starts]
    if not transpose:  # forward substitution: X_k = L_kk^{-1} (B_k - L_k,<k X_<k)
        for k, k0 in enumerate(starts):
            k1 = min(k0 + BLOCK, n)
            if k0:
                X[k0:k1] -= L[k0:k1, :k0] @ X[:k0]
            X[k0:k1] = torch.linalg.solve_triangular(diag[k], X[k0:k1], upper=False)
    else:  # back substitution with L^T: X_k = L_kk^{-T} (B_k - L_>k,k^T X_>k)
        for k in reversed(range(len(starts))):
            k0 = starts[k]
            k1 = min(k0 + BLOCK, n)
            if k1 < n:
                X[k0:k1] -= L[k1:, k0:k1].T @ X[k1:]
            X[k0:k1] = torch.linalg.solve_triangular(diag[k].T, X[k0:k1], upper=True)
    return X


class BlockFactor:
    """M = K_tt + a0 I = L L^T with L stored in the top-left block of K; K_vt intact below."""

    def __init__(self, K: torch.Tensor, n_t: int, a0: float):
        self.K, self.n_t, self.a0 = K, n_t, float(a0)
        self.L = K[:n_t, :n_t]
        self.diag = [self.L[k0:k0 + BLOCK, k0:k0 + BLOCK].clone() for k0 in range(0, n_t, BLOCK)]

    def solve(self, R: torch.Tensor) -> torch.Tensor:
        """M^{-1} R for R (n_t, r), float64 out."""
        Z = tri_solve(self.L, R, transpose=False, diag=self.diag)
        return tri_solve(self.L, Z, transpose=True, diag=self.diag).to(torch.float64)

    def shifted_solve(self, B: torch.Tensor, ridges, *, tol: float, max_iter: int):
        """(K_tt + a_j I)^{-1} b_j by CG on (I + d_j M^{-1}) c = M^{-1} b_j, d_j = a_j - a0
        (symmetric in the M-inner product; eigenvalues 1 + d_j / (lambda + a0))."""
        d = torch.as_tensor(np.asarray(ridges, dtype=np.float64)) - self.a0
        rhs = self.solve(B)

        def mv(P, cols):
            return P + _col(d[cols]) * self.solve(P)

        return batched_pcg(mv, lambda R, cols: R, rhs, tol=tol, max_iter=max_iter, X0=rhs)

    def holdout_predictions(self, C: torch.Tensor) -> torch.Tensor:
        """K_vt C (n_v, r)."""
        Kvt = self.K[self.n_t:, :self.n_t]
        return (Kvt @ C.to(Kvt.dtype)).to(torch.float64)


class HoldoutScorer:
    """Hold-out errors of ridges at one bandwidth (see the module docstring).

    ``X``, ``y`` are in hold-out order; ``spec`` the predicted spectrum of K_n (decreasing),
    ``tol`` the solvers' relative residual.  ``errors`` maps grid index -> hold-out MSE;
    ``warm`` maps grid index -> (training-block solution, PCG iterations) for Nystrom-PCG ones.
    """

    def __init__(self, kern, X, y, n_t: int, dtype, spec, tol: float):
        self.kern, self.X, self.y, self.n_t = kern, X, y, n_t
        self.dtype, self.spec = np.dtype(dtype), spec
        self.n = X.shape[0]
        self.tol = max(tol, TUNE_TOL)
        self.K = None
        self.factor = None
        self.pre = None  # stage 1's Nystrom preconditioner, kept for stage 1b
        self.errors: dict[int, float] = {}
        self.warm: dict[int, tuple] = {}
        self.info = {"pcg_iterations": {}, "factor_pcg_iterations": {}, "cholesky_ridges": []}
        self.t_chol = cost.cholesky_seconds(n_t, self.dtype.itemsize)

    # ------------------------------------------------------------------ matrix
    def matrix(self) -> torch.Tensor:
        if self.K is None:
            self.K = torch.from_numpy(self.kern(self.X, dtype=self.dtype))
        return self.K

    def release(self) -> None:
        self.K, self.factor, self.pre = None, None, None

    # ------------------------------------------------------------------ stage 1
    def pcg_cap(self, r: int) -> int:
        """Iterations of r-ridge Nystrom-PCG that fit in half a Cholesky's predicted time."""
        t_it = cost.pcg_iteration_seconds(self.n_t, r, self.dtype.itemsize, len(self.spec))
        return int(min(500, 0.5 * self.t_chol / t_it))

    def pcg_stage(self, ridges) -> None:
        """Scores by batched Nystrom-PCG the k largest ridges, k as large as the budget allows:
        the batch's iteration cap is for the k columns it solves (a cap for the whole grid's
        columns, as before 2026-12-05, left ~12 iterations at n = 16k and scored only the
        ridges >= 0.1 x mean diag K)."""
        pred = np.array([cost.pcg_iterations(self.spec, self.n, a, self.n_t, self.tol)
                         for a in ridges])
        order = np.argsort(pred, kind="stable")  # cheapest first: the largest ridges
        cap, sel = 0, np.array([], dtype=int)
        for k in range(len(ridges), 0, -1):
            cap = self.pcg_cap(k)
            if pred[order[k - 1]] <= cap:
                sel = np.sort(order[:k])
                break
        self.info["pcg_budget"] = cap
        if sel.size == 0:
            return
        K, n_t = self.matrix(), self.n_t
        mp = cost.precond_m(n_t, len(self.spec))
        pre = self.pre = NystromPreconditioner(K[:n_t, :mp], K[:mp, :mp])
        rt = torch.as_tensor(ridges[sel], dtype=torch.float64)
        yt = torch.from_numpy(self.y[:n_t].copy())
        C, its, conv, _ = batched_pcg(shifted_matvec(K[:n_t, :n_t], rt), pre.bind(rt),
                                      yt[:, None].expand(-1, sel.size).clone(), tol=self.tol,
                                      max_iter=cap)
        self.info["precond_m"] = mp
        self._record_pcg(ridges, sel.tolist(), C, its, conv)

    def _record_pcg(self, ridges, idx, C, its, conv) -> None:
        """Hold-out errors of the Nystrom-PCG training-block solutions C (n_t, len(idx)) of
        ridges[idx]; the converged ones become scores and warm starts."""
        K, n_t = self.K, self.n_t
        errs = holdout_errors((K[n_t:, :n_t] @ C.to(K.dtype)).to(torch.float64).numpy(),
                              self.y[n_t:])
        for k, i in enumerate(idx):
            self.info["pcg_iterations"][f"{ridges[i]:.3g}"] = int(its[k])
            if conv[k]:
                self.errors[i] = float(errs[k])
                self.warm[i] = (C[:, k].clone(), int(its[k]))

    def pcg_extend(self, ridges) -> None:
        """Stage 1b: while the best PCG-scored ridge is at the edge of the scored set, score its
        unscored neighbour by one-column Nystrom-PCG, warm-started from the best's solution,
        as long as the iterations spent here stay within one training-block Cholesky's
        predicted time (the factorisation they replace).  The neighbour's count is
        extrapolated from the best's observed one, its x sqrt(a_best / a) x 1.25 + 5 (the
        condition number grows like 1 / a).  A poor best (explaining less than half the
        held-out variance) or steep low edge is left to the jump to the bottom of the grid
        (:meth:`far_below`)."""
        if self.pre is None:
            return
        r, n_t = len(ridges), self.n_t
        budget = self.t_chol / cost.pcg_iteration_seconds(n_t, 1, self.dtype.itemsize,
                                                          len(self.spec))
        spent = 0
        while not self.bracketed(r):
            b = min(self.errors, key=self.errors.get)
            if b not in self.warm:
                return
            i = b - 1 if b > 0 and b - 1 not in self.errors else b + 1
            if i == b - 1 and self.far_below(b):
                return
            sol, its_b = self.warm[b]
            pred = its_b * math.sqrt(max(1.0, ridges[b] / ridges[i])) * 1.25 + 5
            if spent + pred > budget:
                return
            K = self.matrix()
            rt = torch.tensor([float(ridges[i])], dtype=torch.float64)
            yt = torch.from_numpy(self.y[:n_t].copy())[:, None]
            c, its, conv, _ = batched_pcg(shifted_matvec(K[:n_t, :n_t], rt), self.pre.bind(rt),
                                          yt, tol=self.tol, max_iter=int(budget - spent),
                                          X0=sol[:, None].clone())
            spent += int(its[0])
            self._record_pcg(ridges, [i], c, its, conv)
            if not bool(conv[0]):
                return

    # ------------------------------------------------------------------ stage 2
    def factor_at(self, a0: float) -> None:
        """In-place Cholesky of K_tt + a0 I in K's top-left block (a fresh K if consumed)."""
        if self.factor is not None:  # the top-left block holds an old factor: rebuild, after
            self.factor, self.K = None, None  # dropping every reference (one n x n at a time)
        K = self.matrix()
        Ktt = K[:self.n_t, :self.n_t]
        Ktt.diagonal().add_(a0)
        cholesky_inplace(Ktt)
        self.factor = BlockFactor(K, self.n_t, a0)
        self.info["cholesky_ridges"].append(float(a0))

    def factor_scores(self, ridges, idx) -> list[int]:
        """Scores ridges[idx] within reach of the current factor; returns the indices scored."""
        f = self.factor
        keep = [i for i in idx if i not in self.errors
                and max(ridges[i] / f.a0, f.a0 / ridges[i]) <= REACH_RATIO * (1 + 1e-9)]
        if not keep:
            return []
        yt = torch.from_numpy(self.y[:self.n_t].copy())[:, None].expand(-1, len(keep)).clone()
        C, its, conv, _ = f.shifted_solve(yt, ridges[keep], tol=self.tol, max_iter=80)
        errs = holdout_errors(f.holdout_predictions(C).numpy(), self.y[self.n_t:])
        self.info["factor_pcg_iterations"].update(
            {f"{ridges[i]:.3g}": int(t) for i, t in zip(keep, its, strict=True)})
        done = []
        for i, e, ok in zip(keep, errs, conv, strict=True):
            if ok:
                self.errors[i] = float(e)
                done.append(i)
        return done

    def bracketed(self, r: int) -> bool:
        """The best scored ridge has both grid neighbours scored (or is at a grid edge)."""
        if not self.errors:
            return False
        b = min(self.errors, key=self.errors.get)
        return (b == 0 or b - 1 in self.errors) and (b == r - 1 or b + 1 in self.errors)

    def poor(self, b: int) -> bool:
        """Ridge b's hold-out error leaves more than half the held-out variance unexplained."""
        return self.errors[b] > 0.5 * float(np.var(self.y[self.n_t:]))

    def far_below(self, b: int) -> bool:
        """The best scored ridge b is the smallest scored one, the grid's bottom is unscored,
        and the minimum probably lies far below: the best explains less than half the
        held-out variance, or the error still fell by more than 20 % over the last grid step
        (noise-free targets fall like this to the bottom of the grid; a noisy target's curve
        flattens near its minimum)."""
        if b == 0 or 0 in self.errors or b != min(self.errors):
            return False
        steep = b + 1 in self.errors and self.errors[b] < 0.8 * self.errors[b + 1]
        return self.poor(b) or steep

    def _next_pivot(self, r: int, reach: int, hint: int | None) -> int | None:
        """Where to factorise next, or None when the search is done.

        First factor: at ``hint`` (the previous bandwidth's best) when it is unscored, else -
        on the first bandwidth - at the bottom of the grid (noise-free targets' curves have a
        bump above their minimum at the bottom; walking down from the PCG-scored top cost them
        3 factors).  Local rule: while the best scored ridge is at the edge of the scored set,
        factorise beyond that edge (at the bottom when :meth:`far_below`).  Global rule:
        hold-out curves need not be unimodal (a noise-free target interpolated past the
        double-descent peak has ~0 error at the smallest ridges, then a bump, then falls
        towards Var(y) at the largest), so the hint is scored even when a minimum is
        bracketed, and when the best is at the top of the grid or explains less than half the
        held-out variance, the bottom of the grid is scored too."""
        bottom = min(reach, r - 1)
        if not self.errors:  # no cheap PCG score: start at the hint (default: the bottom)
            return bottom if hint is None else hint
        b = min(self.errors, key=self.errors.get)
        if not self.bracketed(r):
            if self.factor is None and hint is not None and hint not in self.errors:
                return hint
            if self.factor is None and hint is None and 0 not in self.errors:
                return bottom
            lo, hi = min(self.errors), max(self.errors)
            if b == lo and b > 0:
                return bottom if self.far_below(b) else max(b - 1 - reach, 0)
            if b == hi and b < r - 1:
                return min(b + 1 + reach, r - 1)
            return next(i for i in (b - 1, b + 1) if i not in self.errors)
        if hint is not None and hint not in self.errors:
            return hint
        if 0 not in self.errors and (b == r - 1 or self.poor(b)):
            return bottom
        return None

    def search(self, ridges, hint: int | None = None) -> None:
        """Stages 1-3: score until the minimum over the grid is bracketed.  The first factor
        is at ``hint`` (the previous bandwidth's best) unless stages 1-1b scored it, else at
        the bottom of the grid when there are no PCG scores (their top is what Nystrom-PCG
        scores cheaply)."""
        r = len(ridges)
        if r > 1:
            self.pcg_stage(ridges)
            self.pcg_extend(ridges)
        reach = int(math.floor(math.log(REACH_RATIO) / math.log(ridges[1] / ridges[0])
                               + 1e-9)) if r > 1 else 0
        for _ in range(MAX_FACTORS):
            pivot = self._next_pivot(r, reach, hint)
            if pivot is None or pivot in self.errors and self.factor is not None \
                    and self.factor.a0 == ridges[pivot]:
                return
            self.factor_at(ridges[pivot])
            todo = [pivot]
            while todo:
                if not self.factor_scores(ridges, todo):
                    break
                b = min(self.errors, key=self.errors.get)
                todo = [i for i in (b - 1, b + 1) if 0 <= i < r and i not in self.errors]

    def best(self) -> tuple[int, float]:
        from learners.ridge_tuning import pick_best

        r = 1 + max(self.errors) if self.errors else 1
        j = pick_best([self.errors.get(i, np.inf) for i in range(r)])
        return j, self.errors.get(j, np.inf)


def solve_full(kern, X, y, a: float, dtype, spec, tol: float, warm=None, K=None, info=None):
    """(K + a I)^{-1} y on all n (X, y in hold-out order): Nystrom-PCG warm-started from the
    training block's solution when predicted (observed count x 1.2 + 5, else the spectrum's
    prediction) cheaper than a Cholesky, else an in-place Cholesky.  ``K`` may be a prebuilt
    intact matrix of this kernel (it is consumed)."""
    info = {} if info is None else info
    dtype = np.dtype(dtype)
    n = X.shape[0]
    b = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float64))[:, None]
    if K is None:
        K = torch.from_numpy(kern(X, dtype=dtype))
    t_chol = cost.cholesky_seconds(n, dtype.itemsize)
    t_it = cost.pcg_iteration_seconds(n, 1, dtype.itemsize, len(spec))
    vec, its = (None, None) if warm is None else warm
    pred = (1.2 * its + 5) if its is not None else cost.pcg_iterations(spec, n, a, n, tol)
    info["final_predicted_iterations"] = int(pred)
    if pred * t_it <= t_chol:
        mp = cost.precond_m(n, len(spec))
        pre = NystromPreconditioner(K[:, :mp], K[:mp, :mp])
        rt = torch.tensor([float(a)], dtype=torch.float64)
        x0 = None
        if vec is not None:
            x0 = torch.zeros(n, 1, dtype=torch.float64)
            x0[: vec.shape[0], 0] = vec
        cap = int(min(t_chol / t_it, 2 * pred + 10))
        c, it, conv, rel = batched_pcg(shifted_matvec(K, rt), pre.bind(rt), b, tol=tol,
                                       max_iter=cap, X0=x0)
        info.update(final_iterations=int(it[0]), final_relres=float(rel[0]))
        if bool(conv[0]):
            info["solver"] = "pcg"
            return c[:, 0].numpy()
    K.diagonal().add_(a)
    ops = CholeskyShiftOps(cholesky_inplace(K), n, a)
    info["solver"] = "cholesky"
    return ops.solve(b, n)[:, 0].numpy()
