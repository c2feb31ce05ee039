"""Hierarchical polynomial h = g(p(x)) of Wang, Nichani & Lee (ICLR 2024, arXiv 2311.13774).

Target
------
x ~ N(0, I_d), R a Haar-random d x d rotation, u = R x ~ N(0, I_d), h_n = He_n / sqrt(n!):

    inner feature (degree k):  p(x) = sum_{i=1}^m lambda_i h_k(u_i),   sum_i lambda_i^2 = 1
    outer link (degree q):     g(t) = sum_{j=1}^q a_j h_j(t)
    target:                    h(x) = (g(p(x)) - E[g(p)]) / sd[g(p)]

The h_k(u_i) are orthonormal, so p has mean 0 and variance 1 exactly.  p is a sum of independent
terms, so its cumulants are kappa_r(p) = sum_i lambda_i^r kappa_r(h_k(Z)), computed exactly from
Gauss-Hermite quadrature; the moments of p up to order 2q then give E[g(p)] and Var[g(p)] in closed
form, so the target is normalised exactly (no Monte Carlo).

``p_kind = "hermite"`` (default): the lambda_i have random signs and magnitudes in [0.5, 1.5]
before normalisation, over m = ``width`` directions (default m = d, p depends on every direction).
``p_kind = "quadratic"`` (k = 2 only): p(x) = (x^T A x - tr A) / sqrt(2 ||A||_F^2) for a GOE matrix
A (the setting of Nichani, Damian & Lee, NeurIPS 2023); with A = R^T diag(mu) R this is the hermite
form with lambda = mu / ||mu||, which is how it is evaluated.

Energies by Hermite degree (exact): p and its powers are sparse Hermite polynomials of u
(:mod:`tasks.hermite_algebra`; p^j involves at most j coordinates), so the energy of h at every
degree 0..k q is exact.  q_low = k (the degree of the lower level p) and E_top = the energy of h
above degree k, which no polynomial of degree <= k (p itself included) explains.

Default link: g(t) = cos(theta) h_1(t) + sin(theta) h_q(t), with theta solved (exactly, from the
energies) so that the energy of h at degrees <= k is ``low_share``, i.e. E_top = 1 - low_share.
h_1(p) = p lies entirely at degree k, so E_top(theta) = sin^2(theta) E_{>k}(h_q(p)) / Var g(p);
its largest value over theta, roughly 1 - O(1/d) (h_q(p) puts O(sum lambda_i^4) at degree <= k),
bounds what can be requested; above it theta maximises E_top and ``feasible`` is False.  (This
replaces an earlier calibration on Corr(h, p)^2, which is not the energy above degree k: part of
h_q(p) lies at degree <= k.)  A user link is given as ``g_coef = [a_1, ..., a_q]`` (Hermite
coefficients in t; a_1 != 0 recommended, the paper needs E[g'(z)] != 0 for the three-layer net to
find p).

Levels: level 1 = p(x) (one feature), share = energy of h at degrees <= k; level 2 = h(x) itself,
share = E_top (energy above degree k).

Parameters
----------
d, k = 2 (degree of p, >= 1), q = 2 (degree of g, >= 2), degree = None (k q; an alternative to
q, and the family's index parameter: sweep ``degree`` at fixed k so that the report groups the
configurations into one family), width = None (m, default d), p_kind = "hermite",
low_share = 0.5 (energy at degrees <= k, in (0, 1)), g_coef = None, noise = 0.

Simplifications: the paper covers a broad class of degree-k polynomials p (approximately Gaussian,
e.g. sums of many ridge functions); here p is a fixed-form sum of orthogonal ridge terms.

Theory: kernel methods need n ~ d^(kq) (Wang, Nichani & Lee 2024, Sec. 1, the lower bound for
rotationally invariant kernels); a three-layer net trained layerwise learns h with n ~ d^k (their
Thm. 1, up to logs).  The guarantee is for layerwise training; it is also shown as the overlay for
end-to-end deep nets ("hierarchical"), which the paper does not prove.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from scipy.optimize import brentq

from tasks.base import Task
from tasks.hermite import hermite_coefficients, hermite_norm, random_rotation
from tasks.hermite_algebra import Codec, PolyVec
from tasks.streams import Stream, stream_rng


class HierPolyTask(Task):
    """h(x) = g(p(x)), p of degree k (sum of ridge Hermite terms), g of degree q."""

    name: ClassVar[str] = "hier_poly"
    index_param: ClassVar[str | None] = "degree"

    def __init__(self, d: int, seed: int = 0, noise: float = 0.0, k: int = 2, q: int | None = None,
                 degree: int | None = None, width: int | None = None, p_kind: str = "hermite",
                 low_share: float = 0.5, g_coef: list[float] | None = None):
        super().__init__(d, seed=seed, noise=noise)
        q = _resolve_q(k, q, degree)
        _validate(self.d, k, q, width, p_kind, low_share, g_coef)
        self.k, self.q, self.p_kind = int(k), int(q), p_kind
        self.degree = self.k * self.q  # degree of h in x: the family's index
        self.width = self.d if width is None else int(width)
        rng = stream_rng(self.seed, Stream.TEACHER_WEIGHTS)
        self.R, self.lam = self._draw_inner(rng)
        self._p_moments = _sum_moments(self.lam, self.k, 2 * self.q + 1)
        self._powers = self._power_polys()
        self.feasible = True
        if g_coef is None:
            self.g_coef = self._solve_link(float(low_share))
        else:
            self.g_coef = np.asarray(g_coef, dtype=np.float64)
        self._poly = _hermite_to_monomial(self.g_coef)
        self._mean, self._sd, _ = self._exact_stats(self._poly)
        h = self._powers.combine(self._poly[None, :] / self._sd)
        self._energy = h.energy_by_degree(self.degree)[0]
        self._energy[0] = 0.0
        keep = h.degrees() <= self.k
        self._low_poly = PolyVec(h.codec, h.keys[keep], h.coef[:, keep])

    # -- construction ------------------------------------------------------------------------
    def _draw_inner(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Rotation rows (m, d) and weights lambda (m,) with sum lambda^2 = 1."""
        if self.p_kind == "quadratic":
            G = rng.standard_normal((self.d, self.d))
            mu, V = np.linalg.eigh((G + G.T) / 2)
            return V.T.copy(), mu / np.linalg.norm(mu)
        R = random_rotation(self.d, rng)[: self.width]
        lam = rng.choice([-1.0, 1.0], self.width) * rng.uniform(0.5, 1.5, self.width)
        return R, lam / np.linalg.norm(lam)

    def _power_polys(self) -> PolyVec:
        """1, p, p^2, ..., p^q as sparse Hermite polynomials of u = R x (rows of a PolyVec)."""
        m = self.R.shape[0]
        codec = Codec(m, self.k * self.q, self.q)
        if not codec.fits():
            raise ValueError(f"task 'hier_poly': parameter 'degree' = {self.k * self.q} is out of "
                             f"range at width {m}; allowed: monomials packed in 63 bits")
        p = PolyVec.from_terms(codec, codec.univariate(np.arange(m), np.full(m, self.k)),
                               self.lam / math.sqrt(math.factorial(self.k)))
        one = PolyVec(codec, np.zeros(1, dtype=np.int64), np.ones((1, 1)))
        powers = [one, p]
        for _ in range(2, self.q + 1):
            powers.append(powers[-1].times(p))
        return PolyVec.stack(powers)

    def _exact_stats(self, poly: np.ndarray) -> tuple[float, float, float]:
        """E[g(p)], sd[g(p)] and Cov(g(p), p) from the exact moments of p (E[p] = 0, Var[p] = 1)."""
        m = self._p_moments
        q = len(poly) - 1
        mean = float(sum(poly[i] * m[i] for i in range(q + 1)))
        second = sum(poly[i] * poly[j] * m[i + j] for i in range(q + 1) for j in range(q + 1))
        cov = float(sum(poly[i] * m[i + 1] for i in range(q + 1)))
        return mean, math.sqrt(float(second - mean**2)), cov

    def _linear_share(self, poly: np.ndarray) -> float:
        """Corr(g(p), p)^2: the share of Var[g(p)] a least-squares fit on p explains."""
        _, sd, cov = self._exact_stats(poly)
        return (cov / sd) ** 2

    def _solve_link(self, low_share: float) -> np.ndarray:
        """a = cos(theta) e_1 + sin(theta) e_q with energy above degree k = 1 - low_share."""
        def coef(theta: float) -> np.ndarray:
            a = np.zeros(self.q)
            a[0], a[-1] = math.cos(theta), math.sin(theta)
            return a

        basis = np.zeros((2, self.q + 1))
        basis[0], basis[1] = _hermite_to_monomial(coef(0.0)), _hermite_to_monomial(coef(np.pi / 2))
        G = self._powers.combine(basis).gram_by_degree(self.degree)  # (degree + 1, 2, 2)
        G_top, G_var = G[self.k + 1:].sum(axis=0), G[1:].sum(axis=0)

        def top(theta: float) -> float:
            v = np.array([math.cos(theta), math.sin(theta)])
            return float(v @ G_top @ v / (v @ G_var @ v))

        want = 1.0 - low_share  # top(0) = 0: p lies at degree k
        grid = np.linspace(0.0, math.pi, 721)[1:-1]
        best = float(grid[np.argmax([top(t) for t in grid])])
        if top(best) <= want:
            self.feasible = False
            return coef(best)
        return coef(brentq(lambda t: top(t) - want, 0.0, best, xtol=1e-15))

    # -- Task interface ----------------------------------------------------------------------
    def _draw_inputs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.d))

    def inner(self, X: np.ndarray) -> np.ndarray:
        """p(X), shape (n,): mean 0, variance 1 exactly."""
        U = np.asarray(X, dtype=np.float64) @ self.R.T
        return hermite_norm(self.k, U) @ self.lam

    def target(self, X: np.ndarray) -> np.ndarray:
        """h(X) = (g(p(X)) - mean) / sd, shape (n,)."""
        gp = np.polynomial.polynomial.polyval(self.inner(X), self._poly)
        return (gp - self._mean) / self._sd

    def hierarchy(self, X: np.ndarray) -> list[np.ndarray]:
        """[p(X)[:, None], h(X)[:, None]]."""
        p = self.inner(X)
        h = (np.polynomial.polynomial.polyval(p, self._poly) - self._mean) / self._sd
        return [p[:, None], h[:, None]]

    def level_shares(self) -> list[float]:
        """[energy at degrees <= k, energy above degree k (E_top)]."""
        top = float(self._energy[self.k + 1:].sum())
        return [1.0 - top, top]

    @property
    def q_low(self) -> int:
        return self.k

    def energy_by_degree(self) -> np.ndarray:
        return self._energy.copy()

    def top_residual(self, X: np.ndarray) -> np.ndarray:
        U = np.asarray(X, dtype=np.float64) @ self.R.T
        return self.target(X) - self._low_poly.evaluate(U)[:, 0]

    def linear_share(self) -> float:
        """Corr(h, p)^2: what a least-squares fit on the feature p alone explains."""
        return self._linear_share(self._poly)

    @classmethod
    def degree_of(cls, d: int, params: dict) -> int:
        """k q (q from ``q`` or ``degree``), as ``degree``."""
        k = cls.param_value(params, "k")
        return int(k) * int(_resolve_q(k, params.get("q"), params.get("degree")))

    @classmethod
    def check_params(cls, d: int, params: dict) -> None:
        super().check_params(d, params)
        k = params.get("k", 2)
        q = _resolve_q(k, params.get("q"), params.get("degree"))
        _validate(d, k, q, params.get("width"), params.get("p_kind", "hermite"),
                  params.get("low_share", 0.5), params.get("g_coef"))

    def info(self) -> dict:
        out = super().info()
        out.update(feasible=self.feasible, linear_share=self.linear_share())
        return out

    def level_degrees(self) -> list[int]:
        return [self.k, self.k * self.q]

    def theory_exponents(self) -> dict[str, float]:
        # Wang, Nichani & Lee 2024: kernels ~ d^(kq); three-layer layerwise GD ~ d^k (Thm. 1).
        k = float(self.k)
        return {"non-hierarchical": float(self.degree), "layerwise": k, "hierarchical": k}

    def __repr__(self) -> str:
        return (f"HierPolyTask(d={self.d}, seed={self.seed}, noise={self.noise}, k={self.k}, "
                f"q={self.q}, p_kind={self.p_kind!r})")


def _hermite_to_monomial(a: np.ndarray) -> np.ndarray:
    """Monomial coefficients (lowest first) of sum_{j=1}^q a_j h_j(t)."""
    out = np.zeros(len(a) + 1)
    for j, aj in enumerate(a, start=1):
        out[: j + 1] += aj * hermite_coefficients(j)
    return out


def _sum_moments(lam: np.ndarray, k: int, order: int) -> np.ndarray:
    """Raw moments E[p^r], r = 0..order, of p = sum_i lam_i h_k(Z_i) with Z_i iid N(0, 1)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(k * order // 2 + 2)
    weights = weights / weights.sum()
    hk = hermite_norm(k, nodes)
    single = np.array([weights @ hk**r for r in range(order + 1)])  # moments of h_k(Z)
    kappa_single = _moments_to_cumulants(single)
    powers = np.array([np.sum(lam**r) for r in range(order + 1)])
    return _cumulants_to_moments(kappa_single * powers)


def _moments_to_cumulants(m: np.ndarray) -> np.ndarray:
    """kappa_r = m_r - sum_{j=1}^{r-1} C(r-1, j-1) kappa_j m_{r-j} (m_0 = 1)."""
    kappa = np.zeros_like(m)
    for r in range(1, len(m)):
        kappa[r] = m[r] - sum(math.comb(r - 1, j - 1) * kappa[j] * m[r - j] for j in range(1, r))
    return kappa


def _cumulants_to_moments(kappa: np.ndarray) -> np.ndarray:
    """m_r = sum_{j=1}^{r} C(r-1, j-1) kappa_j m_{r-j}, m_0 = 1."""
    m = np.zeros_like(kappa)
    m[0] = 1.0
    for r in range(1, len(kappa)):
        m[r] = sum(math.comb(r - 1, j - 1) * kappa[j] * m[r - j] for j in range(1, r + 1))
    return m


def _resolve_q(k, q, degree) -> int:
    """q from (q, degree = k q): sweeping ``degree`` at fixed k keeps one family for the report."""
    if degree is None:
        return 2 if q is None else q
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"hier_poly: k must be an integer >= 1, got {k!r}")
    if not isinstance(degree, (int, np.integer)) or isinstance(degree, bool) or degree % k:
        raise ValueError(f"hier_poly: degree must be an integer multiple of k={k}, got {degree!r}")
    if q is not None and q * k != degree:
        raise ValueError(f"hier_poly: degree={degree} contradicts k={k}, q={q} (degree = k q)")
    return degree // k


def _validate(d, k, q, width, p_kind, low_share, g_coef) -> None:
    """One-line ValueErrors naming the offending parameter."""
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not is_int(k) or k < 1:
        raise ValueError(f"hier_poly: k must be an integer >= 1, got {k!r}")
    if not is_int(q) or q < 2:
        raise ValueError(f"hier_poly: q must be an integer >= 2, got {q!r}")
    if width is not None and (not is_int(width) or not 1 <= width <= d):
        raise ValueError(f"hier_poly: width must be an integer in [1, d={d}], got {width!r}")
    if p_kind not in ("hermite", "quadratic"):
        raise ValueError(f"hier_poly: p_kind must be 'hermite' or 'quadratic', got {p_kind!r}")
    if p_kind == "quadratic" and (k != 2 or width is not None):
        raise ValueError("hier_poly: p_kind='quadratic' needs k=2 and no width")
    if not 0.0 < float(low_share) < 1.0:
        raise ValueError(f"hier_poly: low_share must be in (0, 1), got {low_share!r}")
    if g_coef is not None:
        a = np.asarray(g_coef, dtype=np.float64)
        if a.shape != (q,) or not np.all(np.isfinite(a)) or a[-1] == 0:
            raise ValueError(f"hier_poly: g_coef must be {q} finite numbers with a_q != 0, "
                             f"got {g_coef!r}")
