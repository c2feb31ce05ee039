"""Dask executor: same records as the local executor, crash isolation, dead workers, GPU routing.

Every cluster here is a real LocalCluster of worker processes on loopback, closed by its test.
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import dask
import numpy as np
import psutil
import pytest
from conftest import (
    PLUGINS,
    hierbench,
    misbehaving_spec,
    slow_ridge_spec,
    stored_rows,
    write_spec,
)
from distributed import Client

from harness import results_frame
from harness.experiment import Job, load_spec
from harness.run import JobContext, RunOptions, run_job, run_spec
from harness.run.cluster import (
    THREAD_ENV_VARS,
    ClusterError,
    DaskExecutor,
    job_uses_gpu,
    start_local_cluster,
    worker_specs,
)
from registry import load_plugin_file

MISBEHAVING = str(PLUGINS / "misbehaving.py")

ISOLATION_SPEC = misbehaving_spec("dask_isolation", 32, 4)

KILL_SPEC = slow_ridge_spec("dask_kill", [0, 1, 2, 3], 64)
KILL_TOTAL = 4 * 3 * 2  # seeds x n x d

GPU_PLUGIN = '''
from sklearn.linear_model import Ridge
from learners import register_learner


@register_learner("gpu_ridge_test")
class GpuRidge(Ridge):
    uses_gpu = True
'''


_rows = stored_rows


def test_smoke_on_dask_equals_local_executor(smoke_run, tmp_path):
    run_dir = tmp_path / "dask"
    hierbench("run", "smoke", "--out", str(run_dir), "--executor", "dask", "--workers", "2",
              "--threads", "1", "--no-report", "--no-progress")  # the local run's threads
    dask_df = results_frame(run_dir).set_index("key")
    local = results_frame(smoke_run).set_index("key")
    assert dask_df.index.is_unique and set(dask_df.index) == set(local.index)
    dask_df = dask_df.loc[local.index]
    assert (dask_df.status == local.status).all() and (local.status == "ok").all()
    for col in ("test_error", "train_error"):
        assert (dask_df[col] - local[col]).abs().max() < 1e-9
    assert (dask_df.threads == 1).all()
    workers = {info["dask_worker"] for info in dask_df.fit_info}
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    # mlp declares uses_gpu: on a cluster without GPU workers it runs on the CPU workers
    assert (dask_df[dask_df.learner == "mlp"].status == "ok").all()
    # resuming the finished run re-runs nothing (and starts no cluster)
    summary = run_spec(load_spec("smoke"), run_dir, RunOptions(executor="dask", progress=False))
    assert summary.already_done == len(local) and not summary.counts
    after = results_frame(run_dir).set_index("key")
    assert after.started_at.equals(dask_df.started_at.loc[after.index])


def test_misbehaving_jobs_are_recorded_as_with_the_local_executor(tmp_path):
    spec = write_spec(tmp_path / "iso.toml", ISOLATION_SPEC)
    run_dir = tmp_path / "run"
    proc = hierbench("run", str(spec), "--out", str(run_dir), "--plugin", MISBEHAVING,
                     "--executor", "dask", "--workers", "2", "--no-report", "--no-progress",
                     check=False)
    assert proc.returncode == 3, proc.stderr  # every job of some learners failed
    df = results_frame(run_dir).set_index("label")
    assert len(df) == 7 and df.key.is_unique
    # a linear model cannot learn h_2(u.x): its error is that of the mean predictor on the same
    # 200 test points (their mean square / Var(y*) = 1), within 10 %
    assert df.loc["ridge", "status"] == "ok"
    assert df.loc["ridge", "test_error"] == pytest.approx(mean_predictor_error(), rel=0.1)
    assert df.loc["raises", "reason"] == "RuntimeError: boom from a plugin"
    assert "boom from a plugin" in df.loc["raises", "traceback"]
    assert df.loc["exits", "reason"] == "worker process died: exited with code 1"
    assert df.loc["segfaults", "reason"] == "worker process died: killed by signal SIGSEGV"
    assert df.loc["sleeps", "status"] == "timeout"
    assert df.loc["sleeps", "reason"] == "exceeded the per-job timeout of 4 s; worker killed"
    assert df.loc["nans", "status"] == "failed" and "NaN/inf" in df.loc["nans", "reason"]
    assert df.loc["hungry", "status"] == "failed" and "memory cap" in df.loc["hungry", "reason"]
    assert df.loc["hungry", "peak_mem_bytes"] > 2**30
    assert all("dask_worker" in info for info in df.fit_info)


def test_killed_worker_loses_nothing(tmp_path):
    """SIGKILL one Dask worker mid-run: its job is re-run elsewhere, every job is stored once."""
    load_plugin_file(MISBEHAVING)
    spec = load_spec(str(write_spec(tmp_path / "kill.toml", KILL_SPEC)))
    run_dir = tmp_path / "run"
    cluster = start_local_cluster(2, threads=1, gpus=0)
    try:
        with Client(cluster, set_as_default=False) as client:
            pids = client.run(os.getpid)
        options = RunOptions(executor="dask", scheduler=cluster.scheduler_address, progress=False)
        with ThreadPoolExecutor(1) as pool:
            driver = pool.submit(run_spec, spec, run_dir, options)
            deadline = time.monotonic() + 60
            while _rows(run_dir) < 4 and time.monotonic() < deadline and not driver.done():
                time.sleep(0.05)
            victim = psutil.Process(next(iter(pids.values())))
            orphans = victim.children(recursive=True)
            assert orphans, "the worker runs its jobs in a child process"
            os.kill(victim.pid, signal.SIGKILL)
            summary = driver.result(timeout=120)
        psutil.wait_procs(orphans, timeout=5)
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                       for p in orphans), "job processes of a dead worker exit"
    finally:
        cluster.close()
    df = results_frame(run_dir)
    assert summary.already_done == 0 and sum(summary.counts.values()) == KILL_TOTAL
    assert len(df) == KILL_TOTAL and df.key.is_unique
    failed = df[df.status != "ok"]
    assert len(failed) <= 1 and all("Dask workers kept dying" in r for r in failed.reason)
    for row in df[df.status == "ok"].sample(4, random_state=0).itertuples():
        job = Job(task=row.task, task_label=row.task_label, task_params=row.task_params, d=row.d,
                  learner=row.learner, label=row.label, learner_params={}, n=row.n,
                  seed=row.seed, n_test=row.n_test)
        assert abs(run_job(job).test_error - row.test_error) < 1e-12  # same as run here


def test_gpu_jobs_run_only_on_gpu_workers(tmp_path):
    plugin = tmp_path / "gpu_plugin.py"
    plugin.write_text(GPU_PLUGIN)
    load_plugin_file(plugin)
    jobs = [Job(task="multi_index", task_label="mi", task_params={"p": 2, "r": 1}, d=4,
                learner=learner, label=learner, learner_params={}, n=32, seed=seed, n_test=100)
            for learner in ("gpu_ridge_test", "ridge") for seed in range(4)]
    assert [job_uses_gpu(j) for j in jobs] == [True] * 4 + [False] * 4
    cluster = start_local_cluster(2, threads=1, gpus=1)  # worker 0 advertises GPU=1
    ex = None
    try:
        gpu_worker = next(w for w, info in cluster.scheduler_info["workers"].items()
                          if info["resources"].get("GPU"))
        ctx = JobContext(threads=1, plugins=[str(plugin)])
        ex = DaskExecutor(ctx, workers=2, timeout_s=60, scheduler=cluster.scheduler_address)
        for job in jobs:
            ex.submit(job)
        done = []
        deadline = time.monotonic() + 60
        while ex.pending() and time.monotonic() < deadline:
            done.extend(ex.poll(timeout=0.5))
    finally:
        if ex is not None:
            ex.close()
        cluster.close()
    assert len(done) == 8 and all(rec.status == "ok" for _, rec in done)
    ran_on = {rec.fit_info["dask_worker"] for job, rec in done if job.learner == "gpu_ridge_test"}
    assert ran_on == {gpu_worker}


def test_worker_specs_pin_threads_and_gpus():
    specs = list(worker_specs(3, threads=2, gpus=1).values())
    assert [s["options"]["nthreads"] for s in specs] == [1, 1, 1]
    assert all(s["options"]["env"][v] == "2" for s in specs for v in THREAD_ENV_VARS)
    assert [s["options"].get("resources") for s in specs] == [{"GPU": 1}, None, None]
    assert [s["options"]["env"]["CUDA_VISIBLE_DEVICES"] for s in specs] == ["0", "", ""]
    assert "CUDA_VISIBLE_DEVICES" not in worker_specs(1, threads=1)["hierbench-0"]["options"]["env"]


@pytest.mark.parametrize("params,expected", [({}, True), ({"device": "cpu"}, False)])
def test_gpu_learner_pinned_to_cpu_is_not_routed(params, expected):
    job = Job(task="multi_index", task_label="mi", task_params={}, d=4, learner="mlp",
              label="mlp", learner_params=params, n=32, seed=0, n_test=100)
    assert job_uses_gpu(job) is expected


def test_unreachable_scheduler_is_one_clear_error():
    job = Job(task="multi_index", task_label="mi", task_params={}, d=4, learner="ridge",
              label="ridge", learner_params={}, n=32, seed=0, n_test=100)
    ex = DaskExecutor(JobContext(), workers=1, timeout_s=10, scheduler="tcp://127.0.0.1:1")
    with dask.config.set({"distributed.comm.timeouts.connect": "0.5s"}):
        with pytest.raises(ClusterError, match="cannot connect to the Dask scheduler at tcp://"):
            ex.submit(job)
    ex.close()
    assert ex.pending() == 0 and ex.poll(0.01) == []


def mean_predictor_error() -> float:
    """Test error of predicting 0 (the exact mean) on the spec's test set: d = 4, seed 0, 200."""
    from harness.run import draw_test_set
    from tasks.multi_index import MultiIndexTask

    _, y = draw_test_set(MultiIndexTask(4, seed=0, p=2, r=1), 0, 200)
    return float(np.mean(y ** 2))
