"""A run killed with SIGKILL resumes to exactly the job set of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import PLUGINS, hierbench, slow_ridge_spec, stored_rows, write_spec

from harness import results_frame
from harness.store import RunLock, RunLockedError

SPEC = slow_ridge_spec("resume", [0, 1, 2], 128)
TOTAL = 2 * 4 * 3  # d x n x seeds


_rows = stored_rows


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    spec = write_spec(tmp_path / "resume.toml", SPEC)
    plugin = ["--plugin", str(PLUGINS / "misbehaving.py")]
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(spec), "--out", str(killed),
           "--workers", "2", "--no-report", "--no-progress", *plugin]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _rows(killed) < 6 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = results_frame(killed).set_index("key")
    assert 6 <= len(before) < TOTAL, "the kill must land mid-run"

    hierbench("run", str(spec), "--out", str(killed), "--no-report", "--no-progress", *plugin)
    after = results_frame(killed).set_index("key")

    fresh = tmp_path / "fresh"
    hierbench("run", str(spec), "--out", str(fresh), "--no-report", "--no-progress", *plugin)
    reference = results_frame(fresh).set_index("key")

    assert after.index.is_unique and len(after) == TOTAL
    assert set(after.index) == set(reference.index)
    assert (after.status == "ok").all()
    # rows committed before the kill are unchanged by the resume
    cols = ["status", "test_error", "started_at", "finished_at", "fit_wall_s"]
    assert after.loc[before.index, cols].equals(before[cols])
    # same seeds and data -> same errors as the uninterrupted run
    diff = (after.test_error - reference.loc[after.index].test_error).abs().max()
    assert diff < 1e-12


def test_second_run_into_a_busy_folder_is_refused(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError, match="in use by another hierbench process"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released: usable again
        pass


def test_retry_failed_reruns_only_failures(tmp_path):
    spec = write_spec(tmp_path / "retry.toml", SPEC.replace('"slow_ridge"', '"raises"')
                      .replace("seeds = [0, 1, 2]", "seeds = [0]").replace("d = [4, 8]", "d = [4]"))
    plugin = ["--plugin", str(PLUGINS / "misbehaving.py")]
    args = ["run", str(spec), "--out", str(tmp_path / "r"), "--no-report", "--no-progress",
            "--executor", "serial", *plugin]
    assert hierbench(*args, check=False).returncode == 3  # every job of the learner failed
    first = results_frame(tmp_path / "r").set_index("key")
    assert (first.status == "failed").all() and len(first) == 4
    assert hierbench(*args, check=False).returncode == 3  # plain resume: nothing re-run
    second = results_frame(tmp_path / "r").set_index("key")
    assert second.started_at.equals(first.started_at)
    time.sleep(1.1)
    assert hierbench(*args, "--retry-failed", check=False).returncode == 3
    third = results_frame(tmp_path / "r").set_index("key")
    assert (third.loc[first.index].started_at > first.started_at).all()
