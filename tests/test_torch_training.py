"""Tests of the shared torch training machinery: schedule, early stopping, lr grid, divergence."""

from __future__ import annotations

import dataclasses
import inspect
import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from learners.base import DivergenceError
from learners.bfc_net import BFCNetLearner
from learners.layerwise import LayerwiseLearner
from learners.mlp import MLPLearner
from learners.nets.data import Data, Scaler, resolve_device
from learners.nets.layers import build_seeded
from learners.nets.loop import (
    Diverged,
    RunResult,
    TrainConfig,
    lr_factor,
    run_with_retries,
    select_lr,
    train,
)
from learners.nets.params import CLOSED_FORM_RUNTIME, DEFAULTS, RuntimeParams, TrainingParams
from learners.poly_features import PolyFeaturesRegressor
from learners.three_layer import ThreeLayerLearner
from learners.two_layer import TwoLayerLearner
from tasks.streams import Stream, stream_rng

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def test_resolve_device_auto_matches_cuda_availability():
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == want
    assert resolve_device(None).type == want
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device(torch.device("cpu")).type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
def test_explicit_cuda_without_a_gpu_is_a_one_line_error(device):
    with pytest.raises(ValueError, match="no CUDA device is available") as info:
        resolve_device(device)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="no CUDA device is available"):
        MLPLearner(width=8, depth=1, max_epochs=1, device=device).fit(
            np.zeros((20, 2)), np.zeros(20))


def test_unknown_device_is_a_one_line_error():
    with pytest.raises(ValueError, match="'gpu0' is not a torch device"):
        resolve_device("gpu0")


#: the device the device-selection test trains on: "auto" (CUDA when present, else the CPU);
#: a GPU machine sets HIERBENCH_TEST_DEVICE=cuda (benchmarks/gpu_check.sh)
TEST_DEVICE = os.environ.get("HIERBENCH_TEST_DEVICE", "auto")


def test_net_trains_and_predicts_on_the_selected_device():
    """A small mlp on the selected device learns a linear target; its record names the device
    and its predictions agree with the same weights evaluated on the CPU."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 4))
    y = X @ np.array([1.0, -0.5, 0.25, 0.0])
    est = MLPLearner(width=32, depth=2, max_epochs=40, device=TEST_DEVICE, random_state=0)
    est.fit(X, y)
    want = resolve_device(TEST_DEVICE)
    assert est.fit_info_["device"].startswith(want.type)
    Xt = rng.standard_normal((200, 4))
    pred = est.predict(Xt)
    err = np.mean((pred - Xt @ np.array([1.0, -0.5, 0.25, 0.0])) ** 2) / 1.3125
    assert err < 0.05
    model = est.model_ if hasattr(est, "model_") else None
    if model is not None and want.type != "cpu":
        on_gpu = est.predict(Xt)
        model.to("cpu")
        est.device_ = torch.device("cpu")
        assert np.allclose(est.predict(Xt), on_gpu, rtol=1e-3, atol=1e-4)


def test_lr_factor_warmup_then_cosine_to_floor():
    cfg = TrainConfig(lr=1.0, max_steps=1000, warmup=0.1, final_lr_factor=0.01,
                      schedule="cosine")
    assert lr_factor(0, cfg) == pytest.approx(1 / 100)
    assert lr_factor(99, cfg) == pytest.approx(1.0)
    assert lr_factor(100, cfg) == pytest.approx(1.0)
    mid = 100 + 450
    assert lr_factor(mid, cfg) == pytest.approx(0.01 + 0.99 * 0.5)
    assert lr_factor(1000, cfg) == pytest.approx(0.01)
    const = TrainConfig(lr=1.0, max_steps=1000, schedule="constant")
    assert lr_factor(900, const) == 1.0


def test_scaler_keeps_geometry_and_inverts_targets():
    rng = np.random.default_rng(0)
    X = 3.0 * rng.standard_normal((500, 4)) + 1.0
    y = 5.0 * rng.standard_normal(500) - 2.0
    s = Scaler.fit(X, y)
    Z = s.x(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    assert np.mean(Z.var(axis=0)) == pytest.approx(1.0)
    np.testing.assert_allclose(s.inverse_y(s.y(y)), y)


def _linear_data(n=400, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    w = torch.tensor([1.0, -2.0, 0.5])
    y = X @ w
    return Data(X[:300], y[:300], X[300:], y[300:])


def test_train_fits_linear_model_and_restores_best_state():
    data = _linear_data()
    model = build_seeded(0, lambda: nn.Sequential(nn.Linear(3, 1), nn.Flatten(0)))
    cfg = TrainConfig(lr=0.05, max_steps=400, batch_size=64, eval_every=20)
    res = train(model, data, cfg, torch.Generator().manual_seed(1))
    assert isinstance(res, RunResult)
    assert res.best_val < 1e-3
    with torch.no_grad():
        val_now = float(torch.mean((model(data.X_val) - data.y_val) ** 2))
    assert val_now == pytest.approx(res.best_val, rel=1e-5)
    assert res.history[-1][0] == res.steps_run


def test_train_stops_early_after_patience_on_a_plateau():
    data = _linear_data()
    data.y_tr = torch.zeros_like(data.y_tr)  # the zero function is optimal: loss flat at once
    data.y_val = torch.zeros_like(data.y_val)
    model = nn.Sequential(nn.Linear(3, 1, bias=False), nn.Flatten(0))
    nn.init.zeros_(model[0].weight)
    cfg = TrainConfig(lr=1e-3, max_steps=1000, eval_every=10, patience=50)
    res = train(model, data, cfg, torch.Generator().manual_seed(1))
    assert res.stopped_early and res.steps_run == 60


def test_train_raises_diverged_on_nan_and_on_blow_up():
    data = _linear_data()
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0))
    data.y_tr = data.y_tr.clone()
    data.y_tr[0] = float("nan")
    with pytest.raises(Diverged):
        train(model, data, TrainConfig(lr=1e-3, max_steps=50, eval_every=10, batch_size=300),
              torch.Generator().manual_seed(0))
    data = _linear_data()
    with pytest.raises(Diverged) as info:
        train(model, data, TrainConfig(lr=1e3, max_steps=100, eval_every=10, optimizer="sgd",
                                       warmup=0.0), torch.Generator().manual_seed(0))
    assert info.value.step <= 100


def test_run_with_retries_lowers_lr_then_raises_one_line():
    def run(lr):
        if lr > 0.02:
            raise Diverged(7, math.nan, lr)
        return "ok"

    result, lr, retries = run_with_retries(run, 1.0, max_retries=3)
    assert (result, retries) == ("ok", 2) and lr == pytest.approx(0.01)
    with pytest.raises(DivergenceError) as info:
        run_with_retries(run, 1.0, max_retries=1)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("diverged: loss=nan at step 7 after 1 retries")
    assert "lr down to 0.1" in msg


def test_select_lr_trains_every_lr_keeps_the_best_and_skips_diverging_ones():
    calls = []

    def run(lr):
        calls.append(lr)
        if lr >= 1.0:
            raise Diverged(3, math.inf, lr)
        return RunResult(best_val=abs(math.log10(lr) + 2), best_step=1, steps_run=1,
                         stopped_early=False)

    res, info = select_lr(run, (1e-3, 1e-2, 1e-1, 1.0))
    assert info["lr"] == pytest.approx(1e-2) and info["retries"] == 0
    assert res.best_val == pytest.approx(0.0)
    assert info["lr_val"]["1"] is None and info["lr_val"]["0.001"] == pytest.approx(1.0)
    assert calls == [1e-3, 1e-2, 1e-1, 1.0]  # each once; the kept net is not retrained
    _, info1 = select_lr(run, (1e-3,))
    assert info1["lr_val"] == {"0.001": pytest.approx(1.0)} and len(calls) == 5
    _, info2 = select_lr(run, (100.0, 30.0), max_retries=3)  # all diverge: 3 does, 0.3 not
    assert info2["lr"] == pytest.approx(0.3) and info2["retries"] == 2
    with pytest.raises(DivergenceError):
        select_lr(run, (10.0, 3.0), max_retries=0)


def test_training_params_budget_and_patience_in_epochs():
    tp = TrainingParams(batch_size=128, max_epochs=300, patience_epochs=20)
    assert tp.steps_per_epoch(6553) == 51 and tp.step_budget(6553) == 300 * 51
    assert tp.patience_steps(6553) == 20 * 51
    assert TrainingParams(max_steps=600).step_budget(6553) == 600
    assert tp.steps_per_epoch(100) == 1 and TrainingParams(patience_epochs=None).patience_steps(
        100) is None
    cfg = TrainConfig.from_params(tp, 1e-3, 6553)
    assert (cfg.max_steps, cfg.patience, cfg.resolved_eval_every(6553)) == (15300, 1020, 51)


NET_LEARNERS = [MLPLearner, BFCNetLearner, LayerwiseLearner, TwoLayerLearner]


@pytest.mark.parametrize("cls", NET_LEARNERS)
def test_every_net_takes_the_shared_training_params_with_their_defaults(cls):
    sig = inspect.signature(cls.__init__).parameters
    for f in dataclasses.fields(TrainingParams):
        assert f.name in sig, (cls.__name__, f.name)
        assert sig[f.name].default == getattr(DEFAULTS, f.name), (cls.__name__, f.name)
        assert f.name in cls._parameter_constraints
    assert set(sig) - {"self"} == set(cls._parameter_constraints), cls.__name__
    assert cls().training_params() == DEFAULTS


@pytest.mark.parametrize("cls,key,value", [
    (MLPLearner, "depth", 0), (MLPLearner, "activation", "tanh"), (MLPLearner, "max_epochs", -1),
    (BFCNetLearner, "patience_epochs", 0), (LayerwiseLearner, "architecture", "cnn"),
    (TwoLayerLearner, "variant", "two_step"), (TwoLayerLearner, "batch_size", 0),
    (MLPLearner, "optimizer", "lbfgs"), (BFCNetLearner, "val_fraction", 1.5),
])
def test_bad_parameter_value_fails_in_one_line_naming_learner_key_and_value(cls, key, value):
    X = np.random.default_rng(0).standard_normal((20, 3))
    with pytest.raises(ValueError) as info:
        cls(**{key: value}).fit(X, X[:, 0])
    msg = str(info.value)
    assert "\n" not in msg and cls.__name__ in msg and repr(key) in msg and str(value) in msg


def test_learner_streams_are_independent_of_the_data_stream():
    seed, n = 3, 50
    data_perm = np.random.default_rng([seed, 1]).permutation(n)
    split = stream_rng(seed, Stream.SPLIT).permutation(n)
    assert not np.array_equal(split, data_perm)
    X = np.random.default_rng([seed, 1]).standard_normal((n, 2))  # data from the harness stream
    y = X[:, 0]
    est = MLPLearner(width=4, depth=1, max_steps=1, lr_grid=(1e-3,), val_fraction=0.2,
                     random_state=seed).fit(X, y)
    n_val = est.fit_info_["n_val"]
    mu = X[np.sort(split[n_val:])].mean(axis=0)  # the learner's training part = its own stream
    np.testing.assert_allclose(est.scaler_.mu_x, mu)


def test_mlp_forced_divergence_retries_with_smaller_lr():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6))
    y = X[:, 0] * X[:, 1] + X[:, 2]
    est = MLPLearner(width=16, depth=2, activation="quadratic", truncate=None, grad_clip=None,
                     optimizer="sgd", max_steps=100, lr_grid=(100.0,), max_retries=6,
                     random_state=0).fit(X, y)
    retries = est.fit_info_["retries"]
    assert retries >= 1 and est.fit_info_["lr"] == pytest.approx(100.0 * 10.0**-retries)
    assert np.isfinite(est.predict(X)).all()


def test_mlp_divergence_for_good_raises_divergence_error():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6))
    y = X[:, 0] * X[:, 1]
    est = MLPLearner(width=16, depth=2, activation="quadratic", max_steps=100,
                     lr_grid=(1e30, 1e29), max_retries=2, random_state=0)
    with pytest.raises(DivergenceError) as info:
        est.fit(X, y)
    msg = str(info.value)
    assert "\n" not in msg and "after 2 retries with lr down to 1e+27" in msg


#: each net learner's own (architecture) parameters and defaults, in signature order
ARCHITECTURE = {
    MLPLearner: dict(depth=3, width=256, activation="relu", residual=False, truncate=6.0),
    BFCNetLearner: dict(n_blocks=3, connections=None, width=None, truncate=6.0, staged=True,
                        stage_fractions=None, backward_depth=None),
    LayerwiseLearner: dict(architecture="bfc", depth=3, width=None, connections=None,
                           truncate=6.0, activation="relu", residual=False,
                           stage_fractions=None, backward_depth=0),
    TwoLayerLearner: dict(variant="one_step", width=1024, step_fraction=0.5,
                          ridge_grid=tuple(float(v) for v in np.logspace(-6, 1, 15)),
                          activation="relu"),
    ThreeLayerLearner: dict(width1=2048, width2=256, stage_fraction=0.5,
                            ridge_grid=tuple(float(v) for v in np.logspace(-6, 1, 15))),
}
#: run-time defaults a learner overrides
RUNTIME_OVERRIDES = {TwoLayerLearner: {"dtype": None}, ThreeLayerLearner: {"dtype": "float64"}}


@pytest.mark.parametrize("cls", list(ARCHITECTURE))
def test_net_signature_is_architecture_then_training_params_then_runtime(cls):
    """Names, order and defaults of __init__: the learner's own parameters, then TrainingParams
    (learners trained by gradient), then RuntimeParams, with the dataclasses' defaults."""
    trained = cls is not ThreeLayerLearner
    runtime = RuntimeParams.names() if trained else CLOSED_FORM_RUNTIME
    expected = dict(ARCHITECTURE[cls])
    if trained:
        expected.update(dataclasses.asdict(DEFAULTS))
    expected.update({k: getattr(RuntimeParams(), k) for k in runtime})
    expected.update(RUNTIME_OVERRIDES.get(cls, {}))
    params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    assert [p.name for p in params] == list(expected), cls.__name__
    for p in params:
        assert p.default == expected[p.name], (cls.__name__, p.name, p.default)
    assert cls.__init__.architecture == ARCHITECTURE[cls]  # built by net_init, not written out
    # every argument stored unchanged (scikit-learn), positionally or by name; unknown ones fail
    est = cls(**expected)
    assert est.get_params(deep=False) == expected
    first = next(iter(ARCHITECTURE[cls]))
    assert getattr(cls("x"), first) == "x" and getattr(cls(**{first: "y"}), first) == "y"
    with pytest.raises(TypeError, match=f"{cls.__name__}.*unexpected keyword argument 'nope'"):
        cls(nope=1)


@pytest.mark.parametrize("cls", NET_LEARNERS + [ThreeLayerLearner, PolyFeaturesRegressor])
def test_parameter_constraints_cover_every_constructor_parameter(cls):
    sig = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert sig == set(cls._parameter_constraints), sig ^ set(cls._parameter_constraints)
    cls()._validate_params()  # the defaults are allowed values
