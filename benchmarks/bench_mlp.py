"""Training throughput of the ``mlp`` learner's training loop against the bare matmul rate.

    python benchmarks/bench_mlp.py [--widths 256 1024] [--depth 4 [3 ...]] [--batch 128]
                                   [--d 32] [--steps 200] [--threads N]
                                   [--dtypes float32 float64] [--clock wall|cpu] [--rounds R]

For each device (cpu, and cuda when present), dtype, depth and width it runs ``steps``
optimisation steps of :func:`learners.nets.loop.train` (AdamW with the learners' default
gradient clipping, the learner's own loop, evaluation and early stopping effectively off) on an
MLPNet of that depth and width, and prints

* samples/s: batch * steps / seconds (after a warm-up of 20 steps; best of 2 runs);
* achieved GFLOP/s: 6 * (weights of the linear layers) flops per sample (2 forward, 4 backward)
  times samples/s;
* the bare matrix-product rates measured in the same run: a square n x n product (n = 2048 on
  the CPU, 8192 on a GPU; column "mm sq") and the layer-shaped (batch x width) @ (width x width)
  product ("mm layer"), best of 3 windows each, and the training rate as a fraction of each
  ("%sq", "%layer").  The throughput target of the net learners (>= 70 % of "the matrix-product
  rate") is read against "%sq", the square product, the machine's dense-product rate; "%layer"
  says how much of the shortfall is the small layer shapes themselves;
* "mm step": the rate of the step's own products alone - the forward ``addmm`` of every layer
  and head, and the backward's weight- and input-gradient ``mm`` in autograd's shapes and
  layouts (no input gradient for the first layer), run back to back on fixed operands with
  fresh outputs, nothing else in between - and "%step", the training rate as a fraction of it
  (100 % = a loop with no cost besides its products, at their back-to-back rate; the rest is
  autograd, activations, optimiser, clip, and the products' own slowdown among them).

``--clock cpu`` times with this process's CPU time instead of the wall clock (one thread only):
on a machine shared with other jobs it counts only the time this process ran, so the ratios
move less with the load.  ``--rounds R`` alternates the four measurements R times and keeps the
best of each, so a change of load hits the products and the loop alike.

With ``--fit N D`` it instead times whole ``mlp`` fits with the default training parameters
(every lr of the grid trained to its plateau) on quick's ``multi_index`` p = 4 target (r = 2,
low_share = 0.5) at n = N, d = D, seeds 0..``--seeds``-1, with the harness's data streams, and
prints the fit wall time, epochs, whether the budget ran out and the test error (after paying
the one-time import that the first torch optimiser of a process triggers, printed separately):

    python benchmarks/bench_mlp.py --fit 4096 24 --threads 2

A figure, not a timed test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import torch

from learners.nets.data import Data
from learners.nets.layers import MLPNet
from learners.nets.loop import TrainConfig, train


def best_gflops(call, flops: float, device, min_s: float = 0.3, repeats: int = 3,
                clock=time.perf_counter) -> float:
    """Best GFLOP/s over ``repeats`` windows (>= ``min_s`` each) of ``call()``, ``flops`` a call."""
    for _ in range(3):
        call()
    _sync(device)
    best = 0.0
    for _ in range(repeats):
        reps, t0 = 0, clock()
        while clock() - t0 < min_s:
            for _ in range(10):
                call()
            reps += 10
            _sync(device)
        best = max(best, flops * reps / (clock() - t0) / 1e9)
    return best


def matmul_gflops(n: int, k: int, m: int, device, dtype, min_s: float = 0.3,
                  repeats: int = 3, clock=time.perf_counter) -> float:
    """Best GFLOP/s over ``repeats`` windows of repeated (n x k) @ (k x m) products."""
    a = torch.randn(n, k, device=device, dtype=dtype)
    b = torch.randn(k, m, device=device, dtype=dtype)
    out = torch.empty(n, m, device=device, dtype=dtype)
    return best_gflops(lambda: torch.mm(a, b, out=out), 2.0 * n * k * m, device, min_s,
                       repeats, clock)


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_products_gflops(width: int, depth: int, d: int, batch: int, device, dtype,
                         min_s: float = 0.3, repeats: int = 3, clock=time.perf_counter) -> float:
    """Best GFLOP/s (6 x weights x batch flops) of one step's matrix products run back to back.

    Operands are fixed (x, the hidden activations and the output gradients drawn once), the
    outputs fresh as in a step: per layer W (out x in), forward ``addmm(b, h, W.t())``, backward
    ``g.t().mm(h)`` (weight gradient) and ``g.mm(W)`` (input gradient, not for the first layer).
    """
    dims = [d] + [width] * depth + [1]
    mk = lambda *s: torch.randn(*s, device=device, dtype=dtype)  # noqa: E731
    Ws = [mk(b, a) / a ** 0.5 for a, b in zip(dims[:-1], dims[1:], strict=True)]
    bs = [mk(b) for b in dims[1:]]
    hs = [mk(batch, a) for a in dims[:-1]]       # each layer's input
    gs = [mk(batch, b) for b in dims[1:]]        # each layer's output gradient

    def step():
        for W, b, h in zip(Ws, bs, hs, strict=True):
            torch.addmm(b, h, W.t())
        for i in range(len(Ws) - 1, -1, -1):
            gs[i].t().mm(hs[i])
            if i:
                gs[i].mm(Ws[i])

    flops = 6.0 * sum(W.numel() for W in Ws) * batch
    return best_gflops(step, flops, device, min_s, repeats, clock)


def train_rate(width: int, depth: int, d: int, batch: int, steps: int, device, dtype,
               repeats: int = 2, clock=time.perf_counter):
    """Best (samples/s, GFLOP/s) over ``repeats`` runs of the learner's loop on random data."""
    torch.manual_seed(0)
    model = MLPNet(d, width, depth, "relu", False).to(device, dtype)
    n = batch * 8
    X = torch.randn(n, d, device=device, dtype=dtype)
    y = torch.randn(n, device=device, dtype=dtype)
    data = Data(X, y, X[:batch], y[:batch])
    gen = torch.Generator().manual_seed(0)
    cfg = dict(lr=1e-4, batch_size=batch, eval_every=10**9, patience=None, diverge_loss=1e30,
               grad_clip=1.0)
    train(model, data, TrainConfig(max_steps=20, **cfg), gen)  # warm-up
    wall = float("inf")
    for _ in range(repeats):
        _sync(device)
        t0 = clock()
        train(model, data, TrainConfig(max_steps=steps, **cfg), gen)
        _sync(device)
        wall = min(wall, clock() - t0)
    weights = sum(m.weight.numel() for m in list(model.layers) + [model.head])
    rate = batch * steps / wall
    return rate, 6.0 * weights * rate / 1e9


def fit_cost(n: int, d: int, seeds: int) -> None:
    """Wall time and outcome of default ``mlp`` fits (see the module docstring)."""
    from harness.run import draw_test_set, draw_training_set, normalised_mse
    from learners.mlp import MLPLearner
    from tasks import make_task

    print(f"mlp defaults, multi_index r=2 p=4 low_share=0.5, n={n}, d={d}, "
          f"{torch.get_num_threads()} threads")
    # The first torch optimiser of a process imports torch._dynamo (~800 modules, 2-4 s): a
    # one-time cost per worker process, not per fit, so it is paid and shown before the fits.
    t0 = time.perf_counter()
    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], fused=True)
    print(f"one-time import on the first optimiser: {time.perf_counter() - t0:.1f} s")
    for seed in range(seeds):
        task = make_task("multi_index", d=d, seed=seed, r=2, p=4, low_share=0.5)
        X, y = draw_training_set(task, seed, n)
        Xt, yt = draw_test_set(task, seed, 4000)
        t0 = time.perf_counter()
        est = MLPLearner(device="cpu", random_state=seed).fit(X, y)
        wall = time.perf_counter() - t0
        fi = est.fit_info_
        print(f"seed {seed}: fit {wall:6.1f} s, lr {fi['lr']:g}, {fi['epochs']:.0f} epochs "
              f"({fi['steps_total']} steps over the lr grid), budget_exhausted "
              f"{fi['budget_exhausted']}, test error {normalised_mse(est.predict(Xt), yt):.3f}",
              flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--depth", type=int, nargs="+", default=[4])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall: perf_counter; cpu: this process's CPU time (one thread only)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate the three measurements this many times, keep each best")
    ap.add_argument("--fit", type=int, nargs=2, metavar=("N", "D"), default=None)
    ap.add_argument("--seeds", type=int, default=1)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.fit:
        return fit_cost(args.fit[0], args.fit[1], args.seeds)
    if args.clock == "cpu" and torch.get_num_threads() != 1:
        raise SystemExit("--clock cpu counts the CPU time of all threads: use it with --threads 1")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, batch {args.batch}, "
          f"d {args.d}, {args.steps} steps, {args.clock} clock, best of {args.rounds} round(s)")
    print(f"{'device':6} {'dtype':8} {'depth':>5} {'width':>6} {'samples/s':>11} {'GFLOP/s':>8} "
          f"{'mm sq':>8} {'mm layer':>9} {'mm step':>8} {'%sq':>5} {'%layer':>6} {'%step':>6}")
    for device in devices:
        for name in args.dtypes:
            dtype = getattr(torch, name)
            sq_n = 8192 if device.type == "cuda" else 2048
            for depth in args.depth:
                for w in args.widths:
                    peak = layer = chain = rate = gf = 0.0
                    for _ in range(max(1, args.rounds)):   # interleaved: load drifts alike
                        peak = max(peak, matmul_gflops(sq_n, sq_n, sq_n, device, dtype,
                                                       clock=clock))
                        layer = max(layer, matmul_gflops(args.batch, w, w, device, dtype,
                                                         clock=clock))
                        chain = max(chain, step_products_gflops(
                            w, depth, args.d, args.batch, device, dtype, clock=clock))
                        r, g = train_rate(w, depth, args.d, args.batch, args.steps, device,
                                          dtype, clock=clock)
                        rate, gf = max(rate, r), max(gf, g)
                    print(f"{device.type:6} {name:8} {depth:5d} {w:6d} {rate:11.0f} {gf:8.1f} "
                          f"{peak:8.1f} {layer:9.1f} {chain:8.1f} {100 * gf / peak:5.0f} "
                          f"{100 * gf / layer:6.0f} {100 * gf / chain:6.0f}", flush=True)


if __name__ == "__main__":
    main()
