"""The ``nystrom`` path of ``krr``: Falkon with m centres, bandwidth and ridge by hold-out on n.

Centres: m = min(n_t, ``max_centers``, 16 sqrt(n), the memory bound) uniformly drawn training
points (or ``n_centers``), so m grows like sqrt(n) up to the stated cap.  For each bandwidth
the hold-out error of every ridge of the grid is scored by batched Falkon
(:func:`learners.nystrom.falkon_solve`, one m x m eigendecomposition per bandwidth); the winning
pair is solved on all n.  K_nm is stored (float32 past the exact path's cap: 2 GB at
n = 100k, m = 5000) when it takes <= 60 % of the cap, else rebuilt per product.

A fit is marked ``approximate`` in ``fit_info`` when its m centres are fewer than the target
needs, by either criterion:

* ``"feature_dim"``: the kernel's feature space is finite (polynomial of degree q: C(d+q, q)
  dimensions) and m is below it, so the model cannot represent every degree-<=q polynomial;
* ``"spectrum"``: the centres' spectrum has not decayed below the chosen ridge,
  (n / m) lambda_min+(K_mm) > a (the smallest kept eigenvalue, scaled to K_n's, estimates
  lambda_m(K_n)): directions beyond the m centres still carry eigenvalues above the ridge.
"""

from __future__ import annotations

import numpy as np
import torch

from learners.nystrom import KnmOperator, falkon_solve, nystrom_basis
from learners.ridge_tuning import holdout_errors, pick_best


def knm_operator(kern, X, C, dtype, limit):
    """K_nm stored when it takes <= 60 % of the cap, else rebuilt in blocks per product."""
    itemsize = np.dtype(dtype).itemsize
    if X.shape[0] * C.shape[0] * itemsize <= 0.6 * limit:
        return KnmOperator(torch.from_numpy(kern(X, C, dtype=dtype)), dtype=dtype)
    return KnmOperator(kern=kern, X=X, centres=C, dtype=dtype)


def fit_falkon(est, X, y, kerns, perm, plan, rng, info):
    """Returns (kernel, ridge, centres, coefficients) of the winning pair; fills ``info``."""
    from learners.kernel_ridge import holdout_size

    n, d = X.shape
    dtype = np.float32 if plan["itemsize"] == 4 else np.float64
    tuned = len(kerns) > 1 or est.alpha is None
    n_v = holdout_size(n, est.val_fraction) if tuned else 0
    n_t = n - n_v
    Xp, yp = X[perm], torch.from_numpy(y[perm])
    m = min(plan["m"], n_t)
    C = Xp[np.sort(rng.choice(n_t, m, replace=False))]
    tol = est._tol(dtype)
    best = None
    by_bw = {}
    for kern in kerns:
        Kmm = torch.from_numpy(kern(C))  # float64: m x m is small, and must be PSD
        ridges = est._ridge_grid(float(torch.diagonal(Kmm).mean()))
        basis = nystrom_basis(Kmm)
        op = knm_operator(kern, Xp, C, dtype, est._limit())
        if n_v:
            res = falkon_solve(op.rows(n_t), Kmm, yp[:n_t], ridges, tol=tol, basis=basis)
            errs = holdout_errors(op.matvec(res.beta)[n_t:].numpy(), yp[n_t:].numpy())
            j = pick_best(errs)
            err, curve = float(errs[j]), [[float(a), float(e)] for a, e in zip(ridges, errs,
                                                                                strict=True)]
        else:
            j, err, curve = 0, 0.0, []
        by_bw[f"{kern.bandwidth:.4g}"] = err
        if best is None or err < best["err"]:
            best = {"kern": kern, "a": float(ridges[j]), "err": err, "curve": curve,
                    "basis": basis, "Kmm": Kmm, "op": op}
        else:
            del op
    kern, a, op, Kmm, basis = best["kern"], best["a"], best["op"], best["Kmm"], best["basis"]
    res = falkon_solve(op, Kmm, yp, [a], tol=tol, basis=basis)
    lam = basis[0]
    reasons = []
    dim = est._feature_dim(d)
    if dim is not None and m < dim:
        reasons.append("feature_dim")
    lam_m = float(lam.min()) * n / m if lam.numel() == m else 0.0
    if lam_m > a:
        reasons.append("spectrum")
    info.update(solver="falkon", dtype=np.dtype(dtype).name, m=m, n_centres=m, n_val=n_v,
                stored_knm=op.K is not None, holdout_mse=best["err"] if n_v else None,
                holdout_curve=best["curve"], holdout_by_bandwidth=by_bw, rank=res.rank,
                iterations=res.iterations[0], converged=res.converged[0],
                approximate=bool(reasons), approx_reason=",".join(reasons),
                lambda_m_est=lam_m, tuning="holdout" if n_v else "fixed")
    return kern, a, C, res.beta[:, 0].numpy()
