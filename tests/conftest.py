"""Shared fixtures: a real smoke run (once per session), spec writing, CLI invocation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = Path(__file__).resolve().parent / "plugins"


def hierbench(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess (as a user would) and return the completed process."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200")
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"hierbench {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """A complete `hierbench run smoke` (with its report) in a temporary folder."""
    run_dir = tmp_path_factory.mktemp("runs") / "smoke"
    hierbench("run", "smoke", "--out", str(run_dir), "--no-progress")
    return run_dir


def write_spec(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def one_thread():
    """One BLAS/LAPACK/OpenMP thread and one torch thread for the duration of a test, restored
    after: multi-threaded LAPACK and OpenMP spin-wait on an oversubscribed machine (a 400 x 400
    eigh took seconds), and one thread keeps results independent of the core count."""
    import torch

    from harness.run import limit_threads

    before = torch.get_num_threads()
    with limit_threads(1):
        yield
    torch.set_num_threads(before)


def task_data(name: str, d: int, n: int, n_test: int, seed: int = 0, *, offsets=(1, 2),
              **params):
    """(task, X, y, X_test, y*(X_test)): a task's training set and noiseless test set.

    The training inputs come from ``default_rng(seed + offsets[0])``, the test inputs from
    ``default_rng(seed + offsets[1])`` (each test module keeps the offsets it always used).
    """
    import numpy as np

    from tasks import make_task

    task = make_task(name, d=d, seed=seed, **params)
    X, y = task.sample(n, np.random.default_rng(seed + offsets[0]))
    Xt = task.sample(n_test, np.random.default_rng(seed + offsets[1]))[0]
    return task, X, y, Xt, task.target(Xt)


#: the plugin learners of tests/plugins that misbehave on purpose (raise, exit, segfault, hang,
#: return NaN, eat memory), after a well-behaved ridge; spec text for [[learners]] tables
MISBEHAVING_LEARNERS = "".join(f'[[learners]]\nname = "{name}"\n' for name in (
    "ridge", "raises", "exits", "segfaults", "sleeps", "nans", "hungry"))


def misbehaving_spec(name: str, n_max: int, timeout_s: float, extra: str = "") -> str:
    """One seed of multi_index (d = 4) from n = 32 to n_max (ratio 2) with the misbehaving
    learners (plus ``extra`` [[learners]] text), a 1 GiB memory cap and the given timeout."""
    return (f'name = "{name}"\nseeds = [0]\nn_test = 200\n[n_grid]\nn_min = 32\n'
            f'n_max = {n_max}\nratio = 2.0\n[budget]\ntimeout_s = {timeout_s}\n'
            'memory_gb = 1.0\n[[tasks]]\nname = "multi_index"\nd = [4]\n'
            'params = { p = 2, r = 1 }\n' + MISBEHAVING_LEARNERS + extra)


def slow_ridge_spec(name: str, seeds: list[int], n_max: int) -> str:
    """A spec of the slow_ridge plugin on multi_index (d = 4, 8; n = 16 ... n_max, ratio 2)."""
    return (f'name = "{name}"\nseeds = {seeds}\nn_test = 200\n[n_grid]\nn_min = 16\n'
            f'n_max = {n_max}\nratio = 2.0\n[budget]\ntimeout_s = 60\n[[tasks]]\n'
            'name = "multi_index"\nd = [4, 8]\nparams = { p = 2, r = 1 }\n'
            '[[learners]]\nname = "slow_ridge"\n')


def stored_rows(run_dir: Path) -> int:
    """Rows committed to a run folder's results.sqlite so far (0 while it is absent or locked)."""
    import sqlite3

    db = run_dir / "results.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
