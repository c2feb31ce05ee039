"""The ``hierbench`` command line: run, list, validate, report, show, compare, export, diagnose.

Exit codes: 0 done; 2 a user error (a bad spec key or parameter value, an unknown learner, a
plugin that raises, a locked run folder), one line ``error: ...`` on stderr; 3 the run finished
but every job of at least one learner failed (one line per such learner with its first failure
reason; the report is still built); 130 interrupted.  Results already stored stay in the run's
database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from registry import PluginError, load_plugin_files

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="hierbench: sample complexity vs dimension, deep vs kernel learners.")
err = Console(stderr=True)
out = Console()
EXIT_USAGE = 2
EXIT_LEARNER_FAILED = 3
EXIT_INTERRUPTED = 130

PluginOpt = Annotated[list[Path] | None, typer.Option(
    "--plugin", help="Python file registering extra tasks/learners (repeatable).")]


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=EXIT_USAGE)


def _load_plugins(plugins: list[Path] | None) -> None:
    try:
        load_plugin_files([str(p) for p in plugins or []])
    except PluginError as exc:
        _fail(str(exc))


def _load_spec(spec: str):
    from harness.experiment import SpecError, load_spec, resolve_spec_path

    try:
        return load_spec(spec), resolve_spec_path(spec).read_text()
    except (SpecError, PluginError) as exc:
        _fail(str(exc))


@app.command()
def run(
    spec: Annotated[str, typer.Argument(help="Preset name (see `hierbench list`) or TOML path.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder [runs/<name>].")] = None,
    executor: Annotated[str | None, typer.Option(help="serial | local | dask")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [cores].")] = None,
    threads: Annotated[int | None, typer.Option(help="BLAS/torch threads per job.")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Re-run failed/timed-out/skipped.")] = False,
    report: Annotated[bool, typer.Option(help="Build the report at the end.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    plugin: PluginOpt = None,
) -> None:
    """Run (or resume) a benchmark spec and build its report."""
    from harness.run import ClusterError, RunOptions, failed_learners, run_spec
    from harness.store import RunLockedError

    _load_plugins(plugin)
    spec_obj, text = _load_spec(spec)
    if executor is not None and executor not in ("serial", "local", "dask"):
        _fail(f"--executor must be serial, local or dask, got {executor!r}")
    for name, value in (("--workers", workers), ("--threads", threads)):
        if value is not None and value <= 0:
            _fail(f"{name} must be > 0, got {value}")
    run_dir = out_dir or Path("runs") / spec_obj.name
    options = RunOptions(executor=executor, workers=workers, threads=threads,
                         scheduler=scheduler, retry_failed=retry_failed, progress=progress)
    try:
        summary = run_spec(spec_obj, run_dir, options, spec_text=text, console=err)
    except (RunLockedError, ClusterError) as exc:
        _fail(str(exc))
    _print_summary(run_dir)
    if summary.interrupted:
        err.print(f"interrupted: stored results are kept in {run_dir}; "
                  "run the same command again to resume.")
        raise typer.Exit(code=EXIT_INTERRUPTED)
    if report:
        _build_report(run_dir)
    failed = failed_learners(run_dir)
    for f in failed:
        err.print(f"[bold red]failed:[/] {f.line()}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(code=EXIT_LEARNER_FAILED)


def _print_summary(run_dir: Path) -> None:
    import pandas as pd

    from harness.store import STATUSES, results_frame

    df = results_frame(run_dir)
    table = Table(title=f"jobs in {run_dir}")
    for col in ("learner", *STATUSES, "fit time (s)", "peak GiB"):
        table.add_column(col, justify="right" if col != "learner" else "left")
    if len(df):
        counts = df.groupby(["label", "status"]).size().unstack(fill_value=0)
        fit = df.groupby("label")["fit_wall_s"].sum()
        # the largest job's peak resident memory (its own record: a whole-run timer sees less)
        peak = pd.to_numeric(df["peak_mem_bytes"], errors="coerce").groupby(df["label"]).max()
        for label, row in counts.iterrows():
            mem = peak.get(label)
            table.add_row(str(label), *(str(int(row.get(s, 0))) for s in STATUSES),
                          f"{fit.get(label, 0.0):.1f}",
                          "-" if mem is None or pd.isna(mem) else f"{mem / 2**30:.2f}")
    err.print(table)


def _build_report(run_dir: Path, formats: str | None = None) -> None:
    from reports import build_report

    try:
        folder = build_report(run_dir, formats=formats)
    except Exception as exc:  # noqa: BLE001 - the results stay; say why the report failed
        _fail(f"report failed ({type(exc).__name__}: {exc}); results are in {run_dir}")
    out.print(f"report: {Path(folder) / 'report.html'}")
    out.print(f"report: {Path(folder) / 'report.md'}")


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    plugin: PluginOpt = None,
) -> None:
    """List the available tasks, learners and presets."""
    from harness.experiment import preset_names
    from learners import available_learners
    from tasks import available_tasks

    _load_plugins(plugin)
    data = {"tasks": available_tasks(), "learners": available_learners(),
            "presets": preset_names()}
    if as_json:
        typer.echo(json.dumps(data))
        return
    for kind, names in data.items():
        out.print(f"[bold]{kind}[/]: {', '.join(names)}")


@app.command()
def validate(spec: str, plugin: PluginOpt = None) -> None:
    """Check a spec (keys, values, task and learner names and params) without running it.

    Also counts the jobs the learners' resource models put over the budget (or a learner's own
    memory cap): the run skips them (right-censoring) when its n-search reaches them."""
    from collections import Counter

    from harness.experiment import plan
    from harness.run.runner import resource_admission

    _load_plugins(plugin)
    spec_obj, _ = _load_spec(spec)
    series = plan(spec_obj)
    admit = resource_admission(spec_obj)
    over = Counter((job.label, str(refusal.kind)) for s in series for job in s.jobs
                   if (refusal := admit(job)) is not None)
    text = f"{spec_obj.name}: valid; {len(series)} series, {sum(len(s.jobs) for s in series)} jobs"
    if over:
        parts = ", ".join(f"{label} {n} ({kind})" for (label, kind), n in sorted(over.items()))
        text += (f"; {sum(over.values())} predicted over budget, skipped if the n-search "
                 f"reaches them: {parts}")
    out.print(text)


FormatsOpt = Annotated[str | None, typer.Option(
    help="Figure formats, comma-separated, of png, svg, pdf (PNG always; default png,svg).")]


@app.command()
def report(
    run_dir: Path,
    formats: FormatsOpt = None,
    plugin: PluginOpt = None,
) -> None:
    """Build report.md, report.html, figures and tables for a run folder."""
    _load_plugins(plugin)
    _check_run_dir(run_dir)
    _build_report(run_dir, formats)


@app.command()
def show(run_dir: Path) -> None:
    """Print the exponent table and the failures of a run in the terminal."""
    from reports import show_summary

    _check_run_dir(run_dir)
    show_summary(run_dir, console=out)


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="The first run folder (A).")],
    run_b: Annotated[Path, typer.Argument(help="The second run folder (B).")],
    markdown: Annotated[Path | None, typer.Option(
        "--markdown", help="Also write the comparison as Markdown to this file.")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples per run.")] = 1000,
) -> None:
    """The exponent and verdict tables of two runs side by side, differences marked."""
    from reports.compare import compare_runs, comparison_markdown, print_comparison

    for run_dir in (run_a, run_b):
        _check_run_dir(run_dir)
    if n_boot <= 0:
        _fail(f"--n-boot must be > 0, got {n_boot}")
    comparison = compare_runs(run_a, run_b, n_boot=n_boot)
    print_comparison(comparison, out)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(comparison_markdown(comparison))
        out.print(f"markdown: {markdown}")


@app.command()
def export(
    run_dir: Path,
    format: Annotated[str, typer.Option("--format", help="csv | parquet")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Write the run's records to CSV or Parquet."""
    from harness.store import export as export_records

    _check_run_dir(run_dir)
    try:
        path = export_records(run_dir, format, output)
    except ValueError as exc:
        _fail(str(exc))
    out.print(str(path))


@app.command()
def diagnose(
    config: Annotated[str | None, typer.Argument(
        help="Diagnostics config: a TOML path or a diagnostics preset name.")] = None,
    preset: Annotated[str | None, typer.Option(
        "--preset", help="Diagnostics preset (default: bfc-diagnostics).")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Run folder (default: runs/<name>).")] = None,
    executor: Annotated[str | None, typer.Option(
        help="serial | local | dask (default: the config's, else serial with one worker, "
             "local with more).")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes (default: the config's, else 1).")] = None,
    threads: Annotated[int | None, typer.Option(
        help="BLAS/torch threads per fit (default: the config's, else 1).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
    retry_failed: Annotated[bool, typer.Option(
        help="Re-run failed and timed-out fits.")] = False,
    report_only: Annotated[bool, typer.Option(help="Only rebuild the report.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Backward feature correction: probe R^2 per layer, end-to-end vs layerwise vs depth m."""
    from harness.diagnostics import DEFAULT_PRESET, DiagnosticsError, load_config, run_diagnostics
    from harness.store import RunLockedError

    if config is not None and preset is not None:
        _fail("give either a CONFIG argument or --preset, not both")
    for name, value in (("--workers", workers), ("--threads", threads)):
        if value is not None and value <= 0:
            _fail(f"{name} must be > 0, got {value}")
    if executor is not None and executor not in ("serial", "local", "dask"):
        _fail(f"--executor must be serial, local or dask, got {executor!r}")
    try:
        cfg, text = load_config(config or preset or DEFAULT_PRESET)
    except DiagnosticsError as exc:
        _fail(str(exc))
    run_dir = out_dir or Path("runs") / cfg.name
    if not report_only:
        try:
            summary = run_diagnostics(cfg, run_dir, text, workers=workers, threads=threads,
                                      retry_failed=retry_failed, progress=progress, console=err,
                                      executor=executor, scheduler=scheduler)
        except (DiagnosticsError, RunLockedError) as exc:
            _fail(str(exc))
        counts = ", ".join(f"{v} {k}" for k, v in sorted(summary.counts.items())) or "none"
        err.print(f"fits: {summary.total} planned, {summary.already_done} already stored, "
                  f"this session: {counts} ({summary.wall_s:.0f} s)")
        if summary.interrupted:
            err.print(f"interrupted: stored fits are kept in {run_dir}; "
                      "run the same command again to resume.")
            raise typer.Exit(code=130)
    _build_diagnostics_report(run_dir)


def _build_diagnostics_report(run_dir: Path) -> None:
    from harness.diagnostics import DB_NAME, DiagnosticsError
    from reports.diagnostics import build_diagnostics_report

    if not (run_dir / DB_NAME).is_file():
        _fail(f"{run_dir} is not a diagnostics folder (no {DB_NAME})")
    try:
        folder = build_diagnostics_report(run_dir)
    except DiagnosticsError as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the fits stay; say why the report failed
        _fail(f"report failed ({type(exc).__name__}: {exc}); fits are in {run_dir}")
    out.print(f"report: {Path(folder) / 'diagnostics.html'}")
    out.print(f"report: {Path(folder) / 'diagnostics.md'}")


def _check_run_dir(run_dir: Path) -> None:
    if not (run_dir / "results.sqlite").is_file():
        _fail(f"{run_dir} is not a run folder (no results.sqlite)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
