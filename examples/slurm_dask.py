"""Run a hierbench spec on a Slurm or PBS cluster through dask-jobqueue.

The script runs on a node that the compute nodes can reach (a login node, or the first node of an
allocation).  It submits batch jobs that each start Dask workers and runs the spec exactly as
``hierbench run SPEC --executor dask --scheduler ...`` would (jobs wait in Dask's queue until
workers join), then cancels the batch jobs.  The driver (this process) alone writes the run's
results database, so the run folder can live on the login node's disk; rerunning the same command
resumes the run.

Needs ``pip install dask-jobqueue`` next to hierbench, and the same Python environment (and any
``--plugin`` file, at the same path) on the compute nodes, e.g. on a shared home or project disk.

Examples::

    # 8 Slurm jobs of 32 cores each: 256 single-threaded workers
    python examples/slurm_dask.py study.toml --out runs/study --jobs 8 --cores 32 --memory 128GB \\
        --walltime 12:00:00 --queue compute --account myproject

    # PBS, 4 jobs of 16 cores, with a plugin learner
    python examples/slurm_dask.py quick --system pbs --jobs 4 --cores 16 --memory 64GB \\
        --plugin my_learner.py

    # 4 batch jobs of one GPU each: one worker advertising GPU=1 (uses_gpu learners run there,
    # one at a time) whose other threads run CPU jobs
    python examples/slurm_dask.py quick --jobs 4 --cores 8 --gpu --memory 64GB \\
        --job-directive=--gres=gpu:1

    # print the batch script only
    python examples/slurm_dask.py quick --jobs 1 --cores 4 --memory 8GB --dry-run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("spec", help="preset name or TOML path, as for `hierbench run`")
    p.add_argument("--out", type=Path, help="run folder [runs/<spec name>]")
    p.add_argument("--system", choices=("slurm", "pbs"), default="slurm")
    p.add_argument("--jobs", type=int, default=1, help="batch jobs to submit")
    p.add_argument("--cores", type=int, required=True, help="cores per batch job")
    p.add_argument("--memory", required=True, help="memory per batch job, e.g. 64GB")
    p.add_argument("--gpu", action="store_true",
                   help="each batch job has one GPU: one worker with --cores threads that "
                        "advertises GPU=1 (request the GPU with --job-directive)")
    p.add_argument("--walltime", default="04:00:00")
    p.add_argument("--queue", help="Slurm partition / PBS queue")
    p.add_argument("--account", help="account or project to charge")
    p.add_argument("--interface", help="network interface the nodes share, e.g. ib0")
    p.add_argument("--job-directive", action="append", default=[],
                   help="extra #SBATCH/#PBS directive (repeatable), e.g. "
                        "--job-directive=--gres=gpu:1")
    p.add_argument("--prologue", action="append", default=[],
                   help="shell line run before the workers start (repeatable), "
                        "e.g. 'source ~/venvs/hierbench/bin/activate'")
    p.add_argument("--plugin", action="append", default=[], help="plugin file (repeatable)")
    p.add_argument("--retry-failed", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="print the batch script and exit")
    return p.parse_args(argv)


def make_cluster(args: argparse.Namespace):
    """A dask-jobqueue cluster: one single-threaded worker per core, or one GPU worker per job.

    Each worker thread is one job slot; BLAS/OpenMP threads are capped at 1 per slot.
    """
    try:
        from dask_jobqueue import PBSCluster, SLURMCluster
    except ImportError:
        sys.exit("error: this example needs dask-jobqueue: pip install dask-jobqueue")
    prologue = [f"export {v}=1" for v in THREAD_VARS] + args.prologue
    kwargs = dict(cores=args.cores, processes=1 if args.gpu else args.cores, memory=args.memory,
                  walltime=args.walltime, queue=args.queue, account=args.account,
                  interface=args.interface, job_script_prologue=prologue,
                  job_extra_directives=args.job_directive,
                  worker_extra_args=["--resources", "GPU=1"] if args.gpu else [],
                  python=sys.executable, job_name="hierbench")
    cls = SLURMCluster if args.system == "slurm" else PBSCluster
    return cls(**kwargs)


def run(args: argparse.Namespace, scheduler: str):
    """Run the spec into its folder on the cluster at ``scheduler``; returns the RunSummary."""
    from harness.experiment import load_spec, resolve_spec_path
    from harness.run import RunOptions, run_spec
    from registry import load_plugin_files

    load_plugin_files([str(Path(p).resolve()) for p in args.plugin])
    spec = load_spec(args.spec)
    out = args.out or Path("runs") / spec.name
    options = RunOptions(executor="dask", scheduler=scheduler, threads=1,
                         retry_failed=args.retry_failed)
    return run_spec(spec, out, options, spec_text=resolve_spec_path(args.spec).read_text())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cluster = make_cluster(args)
    if args.dry_run:
        print(cluster.job_script())
        cluster.close()
        return 0
    try:
        cluster.scale(jobs=args.jobs)
        print(f"scheduler {cluster.scheduler_address}; dashboard {cluster.dashboard_link}",
              file=sys.stderr)
        summary = run(args, cluster.scheduler_address)
    finally:
        cluster.close()
    print(f"{summary.run_dir}: {dict(summary.counts)} this session, "
          f"{summary.already_done} already stored; report: hierbench report {summary.run_dir}",
          file=sys.stderr)
    return 130 if summary.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
