"""Synthetic runs with a known law, for tests and demonstrations of the analysis and the report.

Each learner follows a known sample-complexity law per seed s::

    n*_s(d) = coef * d^beta(index) * exp(noise * z_s),     z_s ~ N(0, 1)
    error_s(n) = min(1, threshold * (n / n*_s)^(-slope)) * exp(jitter * z'),

so the per-seed curve crosses the threshold exactly at n*_s, and the median curve crosses it at the
median of n*_s.  Fit time is ``time_coef * n^1.5 * d``.  Records are written with the Record
schema into ``RUN_DIR/results.sqlite`` exactly as the harness stores them, together with
``spec.json`` (and optionally ``provenance.json``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.store import Record, SkipKind, Status, column_names, ensure_schema


@dataclass
class Law:
    """A synthetic learner: its configuration and the law its n* follows."""

    label: str
    family: str = "non-hierarchical"
    learner: str = "krr"
    coef: float = 3.0
    beta: float | Callable[[float], float] = 2.5
    slope: float = 1.0
    noise: float = 0.1
    jitter: float = 0.02
    time_coef: float = 1e-7
    #: largest n the learner's resource model allows at dimension d (None = no limit)
    n_budget: Callable[[int], float] | None = None
    #: (d, n, seed) -> Status.FAILED | Status.TIMEOUT | None, to inject outcomes
    outcome: Callable[[int, int, int], Status | None] | None = None

    def beta_at(self, index: float) -> float:
        return float(self.beta(index)) if callable(self.beta) else float(self.beta)


@dataclass
class SynthTask:
    """A synthetic task configuration (one value of its family's index)."""

    name: str = "toy"
    params: dict = field(default_factory=lambda: {"p": 2})
    index_param: str | None = "p"
    top_share: float = 0.3
    theory: dict = field(default_factory=dict)
    #: the degree the lower levels reach and the degree of y* (task_info "q_low", "degree")
    q_low: int | None = None
    degree: int | None = None

    @property
    def index(self) -> float | None:
        return None if self.index_param is None else float(self.params[self.index_param])

    @property
    def label(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name}({inner})" if inner else self.name


def n_grid(n_min: int = 16, n_max: int = 2**16, ratio: float = 2**0.5) -> list[int]:
    """The geometric grid n_min * ratio^k (rounded) up to n_max."""
    k = int(np.floor(np.log(n_max / n_min) / np.log(ratio) + 1e-9))
    return sorted({int(round(n_min * ratio**i)) for i in range(k + 1)})


def law_records(task: SynthTask, law: Law, ds: Iterable[int], seeds: Iterable[int],
                grid: list[int], threshold: float, rng: np.random.Generator) -> list[Record]:
    """Records of one (task, learner) over d, seeds and the n-grid, following ``law``."""
    out = []
    beta = law.beta_at(task.index if task.index is not None else 0.0)
    for d in ds:
        for s in seeds:
            nstar_s = law.coef * d**beta * np.exp(law.noise * rng.standard_normal())
            for n in grid:
                err = min(1.0, threshold * (n / nstar_s) ** (-law.slope))
                err *= np.exp(law.jitter * rng.standard_normal())
                out.append(_record(task, law, d, n, s, err, law.time_coef * n**1.5 * d))
    return out


def _record(task: SynthTask, law: Law, d: int, n: int, seed: int, err: float, t: float) -> Record:
    status, reason, skip_kind = Status.OK, None, None
    if law.n_budget is not None and n > law.n_budget(d):
        status, reason = Status.SKIPPED, f"resource model: needs {8 * n * n / 1e9:.1f} GB > budget"
        skip_kind = SkipKind.RESOURCE_MEMORY
    elif law.outcome is not None and (o := law.outcome(d, n, seed)):
        status, reason = Status(o), ("DivergenceError: loss is nan" if o == Status.FAILED
                                     else f"timeout after {t:.0f} s")
    ok = status == Status.OK
    info = {"level_shares": [1 - task.top_share, task.top_share], "top_share": task.top_share,
            "hierarchy_index": task.index, "index_param": task.index_param, "noise": 0.0,
            "theory_exponents": task.theory}
    if task.q_low is not None:
        info.update(q_low=task.q_low, degree=task.degree)
    key = hashlib.sha1(f"{task.label}|{law.label}|{d}|{n}|{seed}".encode()).hexdigest()[:16]
    return Record(
        key=key, task=task.name, task_label=task.label, task_params=dict(task.params), d=int(d),
        learner=law.learner, label=law.label, learner_params={}, n=int(n), seed=int(seed),
        status=status, family=law.family, reason=reason, skip_kind=skip_kind,
        test_error=float(err) if ok else None, train_error=float(0.5 * err) if ok else None,
        fit_wall_s=float(t) if ok else None, fit_cpu_s=float(1.8 * t) if ok else None,
        predict_wall_s=1e-3 if ok else None, n_test=1000, hierarchy_index=task.index,
        top_share=task.top_share, task_info=info, fit_info={}, threads=1,
        versions={"python": "3.11"}, host="synthetic", started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:01Z",
    )


def records_frame(records: list[Record]):
    """The records as the analysis reads them from a run's database (no file written)."""
    import pandas as pd

    from harness.analysis import normalise_records

    return normalise_records(pd.DataFrame([r.columns() for r in records]))  # shallow: fast


def censored_law_records(beta: float, ds: list[int], seeds: int, rng: np.random.Generator,
                         coef: float = 3.0, noise: float = 0.15, n_min: int = 16,
                         n_cap: int = 2**12, jitter: float = 0.0) -> list[Record]:
    """One learner with n*_s(d) = coef d^beta exp(noise z_s) on the grid n_min 2^(k/2) <= n_cap.

    The censoring pattern is known: seeds with n*_s > n_cap never pass (right-censored at the
    largest failing point), seeds with n*_s <= n_min pass at the first point (left-censored),
    a seed whose n*_s lies in the top grid interval passes once at the top (unconfirmed:
    right-censored below it); every other seed is interval-censored between two grid points.
    """
    task, law = SynthTask("toy", {}, None), Law("krr", coef=coef, beta=beta, noise=noise,
                                                  jitter=jitter)
    return law_records(task, law, ds, range(seeds), n_grid(n_min, n_cap), 0.1, rng)


def write_run(run_dir: str | Path, records: list[Record], spec: dict,
              provenance: dict | None = None) -> Path:
    """Write ``results.sqlite`` (table ``records``), ``spec.json`` and ``provenance.json``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cols = column_names()
    with closing(sqlite3.connect(run_dir / "results.sqlite")) as con:
        ensure_schema(con)  # the records table at the current schema version
        con.executemany(
            f"INSERT OR REPLACE INTO records VALUES ({', '.join('?' * len(cols))})",
            [tuple(row[c] for c in cols) for row in (r.to_row() for r in records)])
        con.commit()
    (run_dir / "spec.json").write_text(json.dumps(spec, indent=2, sort_keys=True))
    if provenance is not None:
        (run_dir / "provenance.json").write_text(json.dumps(provenance, indent=2))
    return run_dir


def synthetic_run(run_dir: str | Path, tasks: list[SynthTask], laws: list[Law],
                  ds: list[int], seeds: list[int], grid: list[int] | None = None,
                  eps: dict | None = None, seed: int = 0, provenance: dict | None = None,
                  fit_info: Callable[[Law, int], dict | None] | None = None) -> Path:
    """Write a run of ``laws`` x ``tasks`` x ``ds`` x ``seeds`` over ``grid``; returns run_dir.

    ``fit_info(law, i)``: the fit_info of the i-th record of ``law`` on a task (None: the
    record's default)."""
    grid = grid or n_grid()
    eps = eps or {"kind": "absolute", "value": 0.1}
    rng = np.random.default_rng(seed)
    records = []
    for task in tasks:
        thr = eps["value"] * (task.top_share if eps["kind"] == "relative" else 1.0)
        for law in laws:
            recs = law_records(task, law, ds, seeds, grid, thr, rng)
            if fit_info is not None:
                for i, r in enumerate(recs):
                    r.fit_info = fit_info(law, i) or r.fit_info
            records += recs
    ratio = grid[1] / grid[0] if len(grid) > 1 else 2**0.5
    spec = {"name": Path(run_dir).name, "eps": eps, "seeds": list(seeds),
            "n_grid": {"n_min": min(grid), "n_max": max(grid), "ratio": ratio},
            "tasks": [{"name": t.name, "label": t.label, "params": t.params, "d": list(ds)}
                      for t in tasks],
            "learners": [{"name": w.learner, "label": w.label, "params": {}} for w in laws],
            "adaptive": False, "n_test": 1000}
    return write_run(run_dir, records, spec, provenance)


def demo_run(run_dir: str | Path, seed: int = 0, ds: Iterable[int] = (4, 6, 8, 11, 16),
             seeds: Iterable[int] = range(5), indices: Iterable[int] = (2, 3, 4),
             n_max: int = 2**15, provenance: bool = True) -> Path:
    """A small run exercising every outcome: a kernel whose beta = p grows with p, a deep net with
    bounded beta, a baseline that never reaches eps (censored), resource skips, failures and
    timeouts, over a family indexed by p (default 2, 3, 4) and d (default 4 ... 16)."""
    tasks = [SynthTask("toy", {"p": p, "r": 2}, "p", 0.3,
                       {"non-hierarchical": float(p), "hierarchical": 1.5}, q_low=p - 1,
                       degree=p) for p in indices]

    def fail(d: int, n: int, s: int) -> Status | None:
        return Status.FAILED if (d, s) == (8, 1) and n == 64 else (
            Status.TIMEOUT if (d, s) == (16, 2) and n == 128 else None)

    laws = [
        Law("krr", "non-hierarchical", "krr", coef=2.0, beta=lambda p: p, noise=0.1,
            n_budget=lambda d: 2**14),
        Law("mlp", "hierarchical", "mlp", coef=8.0, beta=1.5, noise=0.1, outcome=fail,
            time_coef=5e-7),
        Law("mean", "baseline", "mean", coef=1e12, beta=0.0, noise=0.0),
    ]
    return synthetic_run(run_dir, tasks, laws, ds=list(ds), seeds=list(seeds),
                         grid=n_grid(16, n_max), eps={"kind": "absolute", "value": 0.1},
                         seed=seed, provenance=_provenance("demo", "01:00") if provenance else None)


def _provenance(preset: str, finished: str) -> dict:
    """A synthetic run's provenance.json: started 2026-01-01 00:00 UTC, finished at ``finished``."""
    return {"git_commit": "0" * 40, "hierbench_version": "0.1.0", "packages": {"numpy": "2"},
            "cpu": "synthetic CPU", "gpu": None, "threads": 1, "hostname": "synthetic",
            "started_at": "2026-01-01T00:00:00Z", "finished_at": f"2026-01-01T{finished}:00Z",
            "command": f"hierbench run {preset}"}


#: quick's learners and their families (the first-screen and figure tests use quick's shape)
QUICK_LEARNERS = {"krr": "non-hierarchical", "ntk": "non-hierarchical",
                  "poly_features": "non-hierarchical", "random_features": "non-hierarchical",
                  "mlp": "hierarchical", "two_layer": "hierarchical", "bfc_net": "hierarchical",
                  "layerwise": "layerwise"}


def quick_like_run(run_dir: str | Path, seeds: Iterable[int] = (0, 1)) -> Path:
    """A run shaped like the quick preset's: its eight learners, multi_index with long parameter
    labels at p = 3, 4, quick's d values and n grid (kernels' beta = 0.75 p, as measured, the
    others 1.5), and every other net fit marked as ended on its budget (so the first screen
    carries the fit-notes line)."""
    tasks = [SynthTask("multi_index", {"low_share": 0.5, "p": p, "r": 2}, "p", 0.5,
                       {"non-hierarchical": float(p), "hierarchical": 2.0}) for p in (3, 4)]
    laws = [Law(n, f, n, coef=1.0 + 0.25 * i,
                beta=(lambda p: 0.75 * p) if f == "non-hierarchical" else 1.5)
            for i, (n, f) in enumerate(QUICK_LEARNERS.items())]

    def budget(law: Law, i: int) -> dict | None:
        return None if law.family == "non-hierarchical" else {"budget_exhausted": i % 2 == 0}

    return synthetic_run(run_dir, tasks, laws, ds=[6, 8, 11, 16], seeds=list(seeds),
                         grid=n_grid(64, 8192, ratio=2.0), eps={"kind": "absolute", "value": 0.1},
                         provenance=_provenance("quick", "00:15"), fit_info=budget)
