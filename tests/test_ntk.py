"""Native NTK/NNGP kernels against wide finite torch networks (Monte Carlo), and the regressors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from learners import make_learner
from learners.ntk import NNGPRegressor, NTKKernel, NTKRegressor

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


ACT = {"relu": torch.relu, "erf": torch.erf, "quadratic": lambda u: u * u}


def _init(d, width, depth, seed):
    g = torch.Generator().manual_seed(seed)
    dims = [d] + [width] * depth + [1]
    return [(torch.randn(dims[i + 1], dims[i], generator=g, dtype=torch.float64),
             torch.randn(dims[i + 1], generator=g, dtype=torch.float64))
            for i in range(depth + 1)]


def _forward(params, X, act, w_std, b_std):
    """NTK parameterisation: h = (w / sqrt(fan_in)) W a + b bias; returns (f, last features)."""
    a = X
    for i, (W, b) in enumerate(params):
        h = (w_std / math.sqrt(W.shape[1])) * a @ W.T + b_std * b
        if i == len(params) - 1:
            return h[:, 0], a
        a = ACT[act](h)


def _empirical_ntk(params, X, act, w_std, b_std):
    """Theta(x, z) = sum over all parameters of df(x)/dp df(z)/dp."""
    flat = [t.requires_grad_(True) for pair in params for t in pair]
    rows = []
    for i in range(X.shape[0]):
        f, _ = _forward(params, X[i:i + 1], act, w_std, b_std)
        grads = torch.autograd.grad(f.sum(), flat)
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    J = torch.stack(rows)
    return (J @ J.T).detach().numpy()


def _mc_ok(samples, ref, z=4.0, bias=0.01):
    """Every entry within z standard errors of the seed mean (+ an O(1/width) bias allowance)."""
    S = np.asarray(samples)
    se = S.std(0, ddof=1) / math.sqrt(S.shape[0])
    return bool(np.all(np.abs(S.mean(0) - ref) <= z * se + bias * np.abs(ref).max()))


@pytest.mark.parametrize("act,depth", [("relu", 1), ("relu", 2), ("relu", 3), ("erf", 2),
                                       ("quadratic", 1)])
def test_ntk_and_nngp_match_wide_networks(act, depth):
    """Empirical NTK (sum of parameter-gradient products) and NNGP (last-layer kernel) of 24
    random networks of width 512 agree with the closed form within Monte Carlo error, and the
    closed form of the next depth does not (the check has power)."""
    rng = np.random.default_rng(0)
    d, w_std, b_std = 6, 1.2, 0.3
    X = rng.standard_normal((5, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True) / math.sqrt(d)  # |x|^2 = d
    Xt = torch.from_numpy(X)
    ntk, nngp = [], []
    for seed in range(24):
        params = _init(d, 512, depth, seed)
        ntk.append(_empirical_ntk(params, Xt, act, w_std, b_std))
        with torch.no_grad():
            _, feats = _forward(params, Xt, act, w_std, b_std)
        nngp.append((w_std**2 * feats @ feats.T / feats.shape[1] + b_std**2).numpy())
    for samples, kind in ((ntk, "ntk"), (nngp, "nngp")):
        assert _mc_ok(samples, NTKKernel(kind, depth, act, w_std, b_std)(X)), kind
        assert not _mc_ok(samples, NTKKernel(kind, depth + 1, act, w_std, b_std)(X)), kind


def test_kernels_are_psd_and_diag_consistent():
    X = np.random.default_rng(1).standard_normal((40, 3))
    for act in ("relu", "erf", "quadratic"):
        for kind in ("ntk", "nngp"):
            k = NTKKernel(kind, 3, act)
            K = k(X)
            np.testing.assert_allclose(np.diag(K), k.diag(X), rtol=1e-7)  # arccos at cos=1
            assert np.linalg.eigvalsh(K).min() >= -1e-9 * np.abs(K).max()


def test_regressors_fit_and_are_registered():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((600, 5))
    f = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] / 2
    y = f + 0.1 * rng.standard_normal(600)
    Xt = rng.standard_normal((500, 5))
    ft = np.sin(Xt[:, 0]) + Xt[:, 1] * Xt[:, 2] / 2
    for name, cls in (("ntk", NTKRegressor), ("nngp", NNGPRegressor)):
        est = make_learner(name, depth=2, random_state=0)
        assert isinstance(est, cls) and est.family == "non-hierarchical"
        est.fit(X, y)
        assert np.mean((est.predict(Xt) - ft) ** 2) / ft.var() < 0.3
        assert est.fit_info_["kernel"] == name and est.fit_info_["depth"] == 2
        assert set(est.get_params()) >= {"depth", "activation", "w_std", "b_std", "backend"}


def test_missing_neural_tangents_raises_one_line_import_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("neural_tangents") or name == "jax":
            raise ImportError(f"No module named {name!r}")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    X = np.zeros((3, 2))
    with pytest.raises(ImportError, match=r"pip install hierbench\[ntk\]") as exc:
        NTKKernel(backend="neural-tangents")(X)
    assert "\n" not in str(exc.value)
