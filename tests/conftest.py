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
