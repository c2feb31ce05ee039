"""Censored maximum likelihood for a log-log power law, batched over bootstrap replicates.

Model (docs/metrics.md, "Exponents"): for observation i (one seed of one curve) at x_i = log d_i,

    log n*_i = a + beta (x_i - xbar) + sigma z_i,     z_i ~ N(0, 1) i.i.d.,

where log n*_i is known only to lie in an interval (L_i, U_i] (its last failing and first passing
grid points); L_i = -inf is left-censored (passes at the grid's first point), U_i = +inf
right-censored (never reached within the budget).  The log-likelihood of replicate b, with
observation weights W[b, i] (bootstrap counts; 1 for the point estimate), is

    l_b(a, beta, sigma) = sum_i W[b, i] log(Phi((U_i - mu_i) / sigma) - Phi((L_i - mu_i) / sigma)),
    mu_i = a + beta (x_i - xbar),

with Phi the standard normal CDF, evaluated in log space (``scipy.special.log_ndtr``) so that
intervals deep in a tail do not underflow.  sigma = sigma_min + exp(s) keeps sigma above a floor
tied to the grid resolution: sigma_min = w / sqrt(12), the standard deviation of a uniform
rounding to the grid, w the median width of the finite intervals in log units.

Gradients are analytic (with z_L, z_U the standardised bounds and P the interval probability):

    dl/dmu    = (phi(z_L) - phi(z_U)) / (sigma P),
    dl/dsigma = (z_L phi(z_L) - z_U phi(z_U)) / (sigma P),

the Hessian is analytic too (second derivatives in :func:`grad_hessian`: one evaluation of the
normal terms where the central difference of the gradient, :func:`hessian`, needs six; the two
agree to ~1e-9 relative, and the report's numbers to ~1e-9 absolute), and every replicate takes
damped Newton steps (eigenvalues of -H floored, backtracking over step lengths 2^-k) at once, as
numpy arrays of shape (B, N). Why by hand: scipy.optimize fits one problem per call, and the
bootstrap needs thousands of small fits (a Python loop over ``minimize`` costs ms each); no library
offers a batched interval-censored regression. Two savings leave every number as it was (each row's
arithmetic is its own, whichever rows share the batch): replicates with identical weights are
fitted once, and a row that has converged is no longer evaluated (every replicate needs 4 to 7
Newton steps, a few of them up to 20). The standard error of beta is sqrt((-H)^-1)_{beta beta} at
the optimum (observed information, weighted), used to studentise the bootstrap.

Identifiability (:func:`pinned`): beta is unbounded above when some pivot x0 has every observation
right of it right-censored and every observation left of it left-censored (a steep enough line
then satisfies all of them); mirror image for below.  Both bounded: an estimate; one side: only a
bound; neither: not estimable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)
S_MIN, S_MAX = -7.0, 3.0  # bounds of s = log(sigma - sigma_min)
BETA_CAP = 40.0  # |beta| beyond this is a replicate whose fit ran away (treated as missing)
STEPS = 0.5 ** np.arange(12)
MAX_STEP = 1.0  # largest change of any parameter in one Newton step (a trust region)
#: half the 90 % chi-square(1) quantile: a one-sided 95 % profile-likelihood bound
PROFILE_DROP = 2.705543 / 2


def log_interval_prob(zl: np.ndarray, zu: np.ndarray) -> np.ndarray:
    """log(Phi(zu) - Phi(zl)) for zl < zu (either may be infinite), stable in both tails."""
    flip = zl > 0
    a = np.where(flip, -zu, zl)
    b = np.where(flip, -zl, zu)
    lb, la = log_ndtr(b), log_ndtr(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        return lb + np.log1p(-np.exp(la - lb))


def _standardised(theta: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  smin: float):
    """sigma (B, 1) = smin + e^s, the interval's bounds in units of sigma around
    mu = a + beta x, z_L and z_U (B, N), and log P = log(Phi(z_U) - Phi(z_L)) (B, N)."""
    a, beta, s = theta[:, 0:1], theta[:, 1:2], theta[:, 2:3]
    sig = smin + np.exp(s)
    mu = a + beta * x[None, :]
    with np.errstate(invalid="ignore", over="ignore"):
        zl, zu = (lo[None, :] - mu) / sig, (hi[None, :] - mu) / sig
    return sig, zl, zu, log_interval_prob(zl, zu)


def _terms(theta: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, smin: float):
    """Per-observation log-likelihood (B, N) and its derivatives in mu and sigma."""
    sig, zl, zu, lp = _standardised(theta, x, lo, hi, smin)
    with np.errstate(over="ignore", invalid="ignore"):
        rl = np.exp(-0.5 * zl**2 - LOG_SQRT_2PI - lp)  # phi(zl) / P
        ru = np.exp(-0.5 * zu**2 - LOG_SQRT_2PI - lp)
        zrl = np.where(np.isfinite(zl), zl * rl, 0.0)
        zru = np.where(np.isfinite(zu), zu * ru, 0.0)
    rl, ru = np.where(np.isfinite(zl), rl, 0.0), np.where(np.isfinite(zu), ru, 0.0)
    return lp, (rl - ru) / sig, (zrl - zru) / sig, sig


def loglik(theta, x, lo, hi, w, smin) -> np.ndarray:
    """Weighted log-likelihood per replicate, shape (B,)."""
    lp = _terms(theta, x, lo, hi, smin)[0]
    return np.sum(np.where(w > 0, w * lp, 0.0), axis=1)


def grad(theta, x, lo, hi, w, smin) -> np.ndarray:
    """Gradient in (a, beta, s) per replicate, shape (B, 3)."""
    _, dmu, dsig, sig = _terms(theta, x, lo, hi, smin)
    dmu, dsig = np.where(w > 0, w * dmu, 0.0), np.where(w > 0, w * dsig, 0.0)
    return np.column_stack([dmu.sum(1), (dmu * x[None, :]).sum(1),
                            dsig.sum(1) * (sig[:, 0] - smin)])


def grad_hessian(theta, x, lo, hi, w, smin) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (B, 3) and analytic Hessian (B, 3, 3) in (a, beta, s), from one evaluation.

    With m_k = z_L^k phi(z_L) / P - z_U^k phi(z_U) / P (a term is 0 at an infinite bound), the
    per-observation derivatives in (mu, sigma) are

        l_mu = m_0 / sigma,  l_sigma = m_1 / sigma,
        l_mu,mu = (m_1 - m_0^2) / sigma^2,  l_mu,sigma = (m_2 - m_0 - m_0 m_1) / sigma^2,
        l_sigma,sigma = (m_3 - 2 m_1 - m_1^2) / sigma^2

    (from phi'(z) = -z phi(z), dz/dmu = -1/sigma, dz/dsigma = -z/sigma); then mu = a + beta x
    and sigma = sigma_min + e^s, so d sigma/ds = d^2 sigma/ds^2 = sigma - sigma_min =: q and
    l_ss = l_sigma,sigma q^2 + l_sigma q.  The gradient is :func:`grad`'s, value for value.
    """
    sig, zl, zu, lp = _standardised(theta, x, lo, hi, smin)
    fl, fu = np.isfinite(zl), np.isfinite(zu)
    with np.errstate(over="ignore", invalid="ignore"):
        rl = np.where(fl, np.exp(-0.5 * zl**2 - LOG_SQRT_2PI - lp), 0.0)  # phi(zl) / P
        ru = np.where(fu, np.exp(-0.5 * zu**2 - LOG_SQRT_2PI - lp), 0.0)
    zl, zu = np.where(fl, zl, 0.0), np.where(fu, zu, 0.0)
    m0, zrl, zru = rl - ru, zl * rl, zu * ru
    m1 = zrl - zru
    m2 = zl * zrl - zu * zru
    m3 = zl * zl * zrl - zu * zu * zru
    pos = w > 0
    with np.errstate(invalid="ignore"):
        wm = np.where(pos, w * (m0 / sig), 0.0)
        ws = np.where(pos, w * (m1 / sig), 0.0)
        s2 = sig * sig
        hmm = np.where(pos, w * ((m1 - m0 * m0) / s2), 0.0)
        hms = np.where(pos, w * ((m2 - m0 - m0 * m1) / s2), 0.0)
        hss = np.where(pos, w * ((m3 - 2.0 * m1 - m1 * m1) / s2), 0.0)
    q = sig[:, 0] - smin
    xr = x[None, :]
    g = np.column_stack([wm.sum(1), (wm * xr).sum(1), ws.sum(1) * q])
    h = np.empty((len(theta), 3, 3))
    h[:, 0, 0] = hmm.sum(1)
    h[:, 0, 1] = h[:, 1, 0] = (hmm * xr).sum(1)
    h[:, 1, 1] = (hmm * xr * xr).sum(1)
    h[:, 0, 2] = h[:, 2, 0] = hms.sum(1) * q
    h[:, 1, 2] = h[:, 2, 1] = (hms * xr).sum(1) * q
    h[:, 2, 2] = hss.sum(1) * q * q + g[:, 2]
    return g, h


def hessian(theta, x, lo, hi, w, smin, h: float = 1e-5) -> np.ndarray:
    """Central-difference Hessian of the analytic gradient, symmetrised, shape (B, 3, 3) (a check
    on :func:`grad_hessian`)."""
    hs = np.empty((theta.shape[0], 3, 3))
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        hs[:, :, k] = (grad(theta + e, x, lo, hi, w, smin)
                       - grad(theta - e, x, lo, hi, w, smin)) / (2 * h)
    return 0.5 * (hs + hs.transpose(0, 2, 1))


@dataclass
class Fit:
    """Batched fit: one row per replicate."""

    a: np.ndarray  # (B,) log n* at x = xbar
    beta: np.ndarray  # (B,) slope (NaN when the fit ran away or had no data)
    sigma: np.ndarray  # (B,)
    se: np.ndarray  # (B,) standard error of beta from the observed information
    loglik: np.ndarray  # (B,)
    converged: np.ndarray  # (B,) bool


def _start(x, lo, hi, w, width: float) -> np.ndarray:
    """Weighted least squares on pseudo-values (midpoints; a censored bound moved by one width)."""
    y = np.where(np.isfinite(lo) & np.isfinite(hi), 0.5 * (lo + hi),
                 np.where(np.isfinite(lo), lo + width, hi - width))
    ws = np.maximum(w.sum(1, keepdims=True), 1e-12)
    xm = (w * x).sum(1, keepdims=True) / ws
    ym = (w * y).sum(1, keepdims=True) / ws
    sxx = (w * (x - xm) ** 2).sum(1, keepdims=True)
    beta = np.where(sxx > 1e-12, (w * (x - xm) * (y - ym)).sum(1, keepdims=True)
                    / np.maximum(sxx, 1e-12), 0.0)
    a = ym - beta * xm
    res = np.sqrt((w * (y - a - beta * x) ** 2).sum(1, keepdims=True) / ws)
    s = np.log(np.maximum(res, 0.2))
    return np.column_stack([a[:, 0], beta[:, 0], s[:, 0]])


def fit_batch(x, lo, hi, w, smin: float, fixed_beta: np.ndarray | None = None,
              iters: int = 40, tol: float = 1e-6) -> Fit:
    """Maximise :func:`loglik` for every row of ``w`` (B, N); x, lo, hi are (N,), x centred.

    ``fixed_beta`` (B,) holds beta fixed (profile likelihood); otherwise all three are free.
    Replicates with the same weights (bootstrap resamples that drew the same seeds) are fitted
    once; every replicate's arithmetic is its own row's, so the result does not depend on which
    other rows share the batch.
    """
    x, lo, hi = (np.asarray(v, float) for v in (x, lo, hi))
    w = np.atleast_2d(np.asarray(w, float))
    if fixed_beta is None and len(w) > 1:
        uniq, inv = np.unique(w, axis=0, return_inverse=True)
        if len(uniq) < len(w):
            f = _fit_rows(x, lo, hi, uniq, smin, None, iters, tol)
            inv = inv.ravel()
            return Fit(*(v[inv] for v in (f.a, f.beta, f.sigma, f.se, f.loglik, f.converged)))
    return _fit_rows(x, lo, hi, w, smin, fixed_beta, iters, tol)


def _fit_rows(x, lo, hi, w, smin: float, fixed_beta, iters: int, tol: float) -> Fit:
    """Damped Newton ascent of every row of ``w`` at once (module docstring).

    A row stops once its gain or its gradient falls below ``tol``; only the rows still moving
    are evaluated in later iterations (the rows are independent: a finished row's values are
    the same whether or not it is carried along)."""
    fin = np.isfinite(lo) & np.isfinite(hi)
    width = float(np.median(hi[fin] - lo[fin])) if fin.any() else 1.0
    theta = _start(x, lo, hi, w, width)
    free = np.ones(3, bool)
    if fixed_beta is not None:
        theta[:, 1] = fixed_beta
        free[1] = False
    f = loglik(theta, x, lo, hi, w, smin)
    done = np.zeros(len(theta), bool)
    for _ in range(iters):
        act = np.flatnonzero(~done)
        th, wa, fa = theta[act], w[act], f[act]
        g, negh = grad_hessian(th, x, lo, hi, wa, smin)
        g, negh = g * free, -negh
        negh[:, ~free, :] = 0.0
        negh[:, :, ~free] = 0.0
        negh[:, ~free, ~free] = 1.0
        ev, vec = np.linalg.eigh(negh)
        ev = np.abs(ev)  # saddle-free Newton: a concave-down direction is still climbed
        ev = np.maximum(ev, 1e-6 * np.maximum(ev.max(1, keepdims=True), 1e-6))
        step = np.einsum("bij,bj,bkj,bk->bi", vec, 1.0 / ev, vec, g)
        step *= free
        step *= np.minimum(1.0, MAX_STEP / np.maximum(np.abs(step).max(1), 1e-12))[:, None]
        new_theta, new_f = th.copy(), fa.copy()
        todo = np.ones(len(act), bool)
        for t in STEPS:  # backtracking: halve the step only where it did not improve
            if not todo.any():
                break
            cand = th[todo] + t * step[todo]
            cand[:, 2] = np.clip(cand[:, 2], S_MIN, S_MAX)
            fc = loglik(cand, x, lo, hi, wa[todo], smin)
            ok = np.isfinite(fc) & (fc > fa[todo])
            rows = np.nonzero(todo)[0][ok]
            new_theta[rows], new_f[rows] = cand[ok], fc[ok]
            todo[rows] = False
        gain = new_f - fa
        theta[act], f[act] = new_theta, new_f
        done[act] = (gain < tol) | (np.abs(g).max(1) < tol)
        if done.all():
            break
    negh = -grad_hessian(theta, x, lo, hi, w, smin)[1]
    se = np.full(len(theta), np.nan)
    if fixed_beta is None:
        with np.errstate(invalid="ignore"):
            det_ok = np.linalg.det(negh) > 0
            inv = np.linalg.inv(np.where(det_ok[:, None, None], negh, np.eye(3)))
            se = np.where(det_ok, np.sqrt(np.maximum(inv[:, 1, 1], 0.0)), np.nan)
    beta = np.where(np.abs(theta[:, 1]) < BETA_CAP, theta[:, 1], np.nan)
    return Fit(theta[:, 0], beta, smin + np.exp(theta[:, 2]), se, f, done)


def pinned(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[bool, bool]:
    """(bounded above, bounded below): whether the likelihood keeps beta from +inf / -inf."""
    x, lo, hi = (np.asarray(v, float) for v in (x, lo, hi))
    xs = np.unique(x)
    pivots = np.concatenate([xs, 0.5 * (xs[1:] + xs[:-1])])

    def escapes(sign: float) -> bool:
        for x0 in pivots:
            right, left = x > x0, x < x0
            up_ok = np.isinf(hi[right]).all() and np.isinf(lo[left]).all()
            down_ok = np.isinf(lo[right]).all() and np.isinf(hi[left]).all()
            if (up_ok if sign > 0 else down_ok):
                return True
        return False

    if len(xs) < 2:
        return False, False
    return not escapes(+1.0), not escapes(-1.0)


def sigma_floor(lo: np.ndarray, hi: np.ndarray, default: float = 0.1) -> float:
    """w / sqrt(12), w the median width of the finite intervals (``default`` when none)."""
    fin = np.isfinite(lo) & np.isfinite(hi)
    if not fin.any():
        return default
    return float(np.median(hi[fin] - lo[fin])) / np.sqrt(12.0)


def profile_bound(x, lo, hi, smin: float, upper: bool, span: float = 25.0,
                  n: int = 121) -> float:
    """One-sided 95 % profile-likelihood bound on beta when only one side is pinned.

    The profile l_p(beta) = max_{a, sigma} l rises towards the unpinned side; the bound is the
    pinned-side-most beta with l_p(beta) >= sup l_p - PROFILE_DROP (a lower bound when ``upper``
    is False, i.e. beta can grow without limit).
    """
    grid = np.linspace(-span, span, n)
    fit = fit_batch(x, lo, hi, np.ones((n, len(x))), smin, fixed_beta=grid)
    top = np.nanmax(fit.loglik)
    ok = fit.loglik >= top - PROFILE_DROP
    if not ok.any():
        return np.nan
    k = int(np.nonzero(ok)[0].max() if upper else np.nonzero(ok)[0].min())
    fine = np.linspace(grid[max(k - 1, 0)], grid[min(k + 1, n - 1)], 41)  # refine the edge
    ff = fit_batch(x, lo, hi, np.ones((len(fine), len(x))), smin, fixed_beta=fine)
    ok_f = ff.loglik >= max(top, np.nanmax(ff.loglik)) - PROFILE_DROP
    if not ok_f.any():
        return float(grid[k])
    return float(fine[ok_f].max() if upper else fine[ok_f].min())
