"""Tests of ``bfc_net``: architecture, staged schedule, freezing, learning a bfc target."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import task_data
from sklearn.base import clone

from learners import make_learner
from learners.bfc_net import BFCNetLearner
from learners.nets.layers import DenseQuadNet, build_seeded, quad
from learners.nets.staged import stage_budgets
from tasks import make_task
from tasks.bfc_structure import check_connections

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest


def _bfc_data(d=8, L=2, n=2000, n_test=4000, seed=0):
    return task_data("bfc", d, n, n_test, seed, offsets=(10, 20), L=L)


def test_quad_is_normalised_square_with_linear_tails():
    z = torch.tensor([0.0, 1.0, -2.0, 5.0, -7.0])
    np.testing.assert_allclose(quad(z, None).numpy(), (z.numpy() ** 2 - 1) / np.sqrt(2), rtol=1e-6)
    t = quad(z, 4.0).numpy() * np.sqrt(2) + 1
    np.testing.assert_allclose(t, [0.0, 1.0, 4.0, 2 * 4 * 5 - 16, 2 * 4 * 7 - 16], atol=1e-5)


def test_connections_default_and_validation():
    assert check_connections(None, 3) == [[0], [0, 1], [0, 2]]
    assert check_connections([[1], [0, 1, 2]], 3) == [[0], [1], [0, 1, 2]]
    with pytest.raises(ValueError, match="block 3"):
        check_connections([[0, 1], [0, 1]], 3)
    with pytest.raises(ValueError, match="J_2..J_L"):
        check_connections([[1]], 3)


def test_dense_net_degree_doubles_per_block():
    """Along a line x = t v, block l of the (untruncated) net is a polynomial of degree 2^l."""
    net = build_seeded(0, lambda: DenseQuadNet(4, 6, check_connections(None, 3), None)).double()
    t = torch.linspace(-2, 2, 40, dtype=torch.float64)
    v = torch.randn(4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        S = net.hidden(t[:, None] * v)
    for l, s in enumerate(S, start=1):
        deg = 2**l
        V = np.vander(t.numpy(), deg + 1)
        res_ok = np.linalg.lstsq(V, s.numpy(), rcond=None)[1]
        res_low = np.linalg.lstsq(V[:, 1:], s.numpy(), rcond=None)[1]  # drop the t^deg column
        scale = np.sum(s.numpy() ** 2, axis=0)
        assert np.max(res_ok / scale) < 1e-12 and np.median(res_low / scale) > 1e-6


def test_stage_budgets_split_the_total():
    assert stage_budgets(6000, 3) == [2000, 2000, 2000]
    assert sum(stage_budgets(1001, 3)) == 1001
    assert stage_budgets(100, 2, (1, 3)) == [25, 75]
    with pytest.raises(ValueError):
        stage_budgets(100, 2, (1,))


def test_bfc_net_learns_two_level_target_beyond_its_top_share():
    task, X, y, Xt, yt = _bfc_data()
    est = BFCNetLearner(n_blocks=2, max_steps=2000, lr_grid=(3e-3,), device="cpu", random_state=0)
    assert est.training_params().step_budget(1600) == 2000  # 300 epochs of 12 steps, capped
    est.fit(X, y)
    err = float(np.mean((est.predict(Xt) - yt) ** 2) / np.var(yt))
    assert err < 0.3 * task.top_share(), (err, task.top_share(), est.fit_info_)
    info = est.fit_info_
    assert [s["active"] for s in info["stages"]] == [1, 2]
    assert sum(s["steps_run"] for s in info["stages"]) == info["steps"] <= 2000
    assert info["budget_exhausted"] == any(s["budget_exhausted"] for s in info["stages"])
    assert info["epochs"] == pytest.approx(info["steps"] / info["steps_per_epoch"], abs=1e-3)
    assert info["step_budget"] == 2000 and info["n_params"] == sum(
        p.numel() for p in est.model_.parameters())


def _block1_snapshots(backward_depth, staged=True):
    _, X, y, _, _ = _bfc_data(d=5, L=3, n=300, n_test=1)
    snaps = {}

    def probe(step, model):
        snaps[step] = model.model_.blocks[0]["0"].weight.detach().clone()

    est = BFCNetLearner(n_blocks=3, width=8, max_steps=90, lr_grid=(1e-2,), patience_epochs=None,
                        backward_depth=backward_depth, staged=staged, callback=probe,
                        callback_every=1, random_state=0).fit(X, y)
    return est, snaps


def test_backward_depth_zero_freezes_each_block_after_its_stage():
    est, snaps = _block1_snapshots(0)
    s1 = est.fit_info_["stages"][0]["steps_run"]
    later = [w for step, w in snaps.items() if step > s1]
    assert later and all(torch.equal(w, later[0]) for w in later)
    assert torch.equal(later[0], est.model_.blocks[0]["0"].weight)
    assert not torch.equal(snaps[1], snaps[s1])


def test_end_to_end_keeps_training_lower_blocks():
    est, snaps = _block1_snapshots(None)
    s1 = est.fit_info_["stages"][0]["steps_run"]
    s2 = s1 + est.fit_info_["stages"][1]["steps_run"]
    assert not torch.equal(snaps[s1 + 1], snaps[s2])
    assert not torch.equal(snaps[s2 + 1], snaps[max(snaps)])
    est1, snaps1 = _block1_snapshots(1)  # block 1 trains in stage 2, frozen in stage 3
    a = est1.fit_info_["stages"][0]["steps_run"]
    b = a + est1.fit_info_["stages"][1]["steps_run"]
    assert not torch.equal(snaps1[a + 1], snaps1[b])
    assert torch.equal(snaps1[b + 1], snaps1[max(snaps1)])


def test_unstaged_is_one_stage_with_all_blocks():
    est, _ = _block1_snapshots(None, staged=False)
    assert [s["active"] for s in est.fit_info_["stages"]] == [3]


def test_bfc_net_conventions_seed_and_hidden():
    _, X, y, Xt, _ = _bfc_data(d=5, L=2, n=200, n_test=11)
    kw = dict(n_blocks=2, width=8, max_steps=40, lr_grid=(1e-3, 1e-2), device="cpu")
    est = make_learner("bfc_net", random_state=4, **kw)
    assert isinstance(est, BFCNetLearner) and est.family == "hierarchical" and est.uses_gpu
    a = clone(est).fit(X, y).predict(Xt)
    b = BFCNetLearner(random_state=4, **kw).fit(X, y)
    np.testing.assert_array_equal(a, b.predict(Xt))
    assert a.dtype == np.float64 and a.shape == (11,)
    hs = b.hidden_representations(Xt)
    assert [h.shape for h in hs] == [(11, 8), (11, 8)]


def test_bfc_net_resources_scale_with_width_and_n():
    small, wide = BFCNetLearner(width=32), BFCNetLearner(width=256)
    assert wide.resources(4000, 32).memory_bytes > small.resources(4000, 32).memory_bytes
    assert wide.resources(4000, 32).seconds > small.resources(4000, 32).seconds
    assert small.resources(10**6, 32).memory_bytes > small.resources(4000, 32).memory_bytes


def test_task_and_net_share_the_connection_rule():
    """One rule (tasks/bfc_structure.py): the net built from a task's connections reads, at each
    block, exactly the levels the teacher's level reads, and both reject the same bad sets."""
    conns = [[1], [0, 1, 2]]
    task = make_task("bfc", d=4, seed=0, L=3, connections=conns)
    est = BFCNetLearner(n_blocks=3, connections=task.connections, width=6)
    net = est._build(4)
    assert [sorted(int(j) for j in blk) for blk in net.blocks] == [[0], *(sorted(task.W[l])
                                                                     for l in (2, 3))]
    assert [[0], *task.connections] == check_connections(conns, 3) == net.J
    for bad in ([[0, 1], [0, 1]], [[1]], [[1], [0, 3]]):
        with pytest.raises(ValueError) as t_err:
            make_task("bfc", d=4, seed=0, L=3, connections=bad)
        with pytest.raises(ValueError) as n_err:
            check_connections(bad, 3)
        assert str(n_err.value).split("allowed: ")[1] in str(t_err.value)
