"""The training loop's streamlined step computes exactly what the library calls compute.

:func:`learners.nets.loop.train` replaces LambdaLR, ``clip_grad_norm_``, ``optimizer.step()``,
``zero_grad`` and the per-step fancy-index gather by cheaper equivalents
(:class:`learners.nets.update.ParamUpdate`); the reference below is the plain loop written with
the library calls.  Both must give bit-identical parameters and loss histories.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from learners.nets.data import Data
from learners.nets.layers import MLPNet
from learners.nets.loop import TrainConfig, lr_factor, make_optimizer, train
from learners.nets.update import ParamUpdate

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def reference_train(model, data, cfg, generator):
    """The loop with the library calls (no early stopping: eval only for the history)."""
    opt = make_optimizer(model.parameters(), cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: lr_factor(t, cfg))
    params = list(model.parameters())
    n, bs = data.X_tr.shape[0], min(cfg.batch_size, data.X_tr.shape[0])
    every, perm, pos, hist, run = cfg.resolved_eval_every(n), None, n, [], 0.0
    for step in range(1, cfg.max_steps + 1):
        if pos + bs > n:
            perm, pos = torch.randperm(n, generator=generator), 0
        idx = perm[pos:pos + bs]
        pos += bs
        loss = torch.mean((model(data.X_tr[idx]) - data.y_tr[idx]) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True)
        opt.step()
        sched.step()
        run += float(loss.detach())
        if step % every == 0:
            hist.append(run)
            run = 0.0
    return hist


def _setup(dtype, seed=0, n=300, d=6):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    y = (X[:, 0] * X[:, 1] + X[:, 2]).to(dtype)
    return Data(X[:240], y[:240], X[240:], y[240:])


@pytest.mark.parametrize("kw", [
    dict(optimizer="adam", grad_clip=1.0, weight_decay=1e-4),
    dict(optimizer="adam", grad_clip=0.05),                     # clipping every step
    dict(optimizer="adam", grad_clip=None, schedule="cosine"),
    dict(optimizer="sgd", grad_clip=1.0, schedule="cosine", weight_decay=1e-3),
    dict(optimizer="adam", grad_clip=1.0, dtype=torch.float64),
])
def test_train_matches_library_loop_bitwise(kw):
    kw = dict(kw)
    dtype = kw.pop("dtype", torch.float32)
    data = _setup(dtype)
    cfg = TrainConfig(lr=3e-3 if kw["optimizer"] == "adam" else 3e-2, max_steps=60,
                      batch_size=24, eval_every=7, warmup=0.2, **kw)
    nets = []
    for _ in range(2):
        torch.manual_seed(1)
        nets.append(MLPNet(6, 16, 2, "relu", False).to(dtype))
    ref = reference_train(nets[0], data, cfg, torch.Generator().manual_seed(5))
    res = train(nets[1], data, cfg, torch.Generator().manual_seed(5))
    # train() restores the best-validation state; compare at the end of training instead
    assert res.steps_run == cfg.max_steps
    for (_, train_loss, _), run in zip(res.history, ref, strict=False):
        assert math.isclose(train_loss, run / 7, rel_tol=1e-6)
    nets2 = []
    for _ in range(2):
        torch.manual_seed(1)
        nets2.append(MLPNet(6, 16, 2, "relu", False).to(dtype))
    reference_train(nets2[0], data, cfg, torch.Generator().manual_seed(5))
    train(nets2[1], data, TrainConfig(**{**cfg.__dict__, "eval_every": 10**6}),
          torch.Generator().manual_seed(5))
    for a, b in zip(nets2[0].parameters(), nets2[1].parameters(), strict=True):
        assert torch.equal(a, b)


def test_param_update_falls_back_when_a_parameter_has_no_gradient():
    torch.manual_seed(0)
    nets = [MLPNet(4, 8, 2, "relu", False) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    x, y = torch.randn(16, 4), torch.randn(16)
    opts = [make_optimizer(m.parameters(), TrainConfig(lr=1e-2, max_steps=1)) for m in nets]
    update = ParamUpdate(opts[1], 0.1)
    for step in range(6):
        for m in nets:
            loss = torch.mean((m(x) - y) ** 2)
            if step % 3 == 2:   # the head's bias gets no gradient on these steps
                loss = torch.mean((m.hidden(x)[-1] @ m.head.weight[0] - y) ** 2)
            loss.backward()
        nn.utils.clip_grad_norm_(list(nets[0].parameters()), 0.1, foreach=True)
        opts[0].step()
        opts[0].zero_grad(set_to_none=True)
        update()
        assert all(p.grad is None for p in nets[1].parameters())
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.equal(a, b)
