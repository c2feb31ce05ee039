"""``build_report(run_dir)``: report.md, report.html, figures (PNG, SVG; PDF on request), tables.

The first screen answers the question: what was run (tasks, learners, d and n ranges, seeds, wall
time), then the headline contrast (each non-hierarchical learner's growth of beta per unit of
depth/degree minus the reference deep learner's, reports/contrast.py), the verdict table (does beta
grow with depth/degree?) and the headline figure (the verdict figure, else the first n* figure).
Below it, the details, the long tables grouped by task and collapsible: 1 exponents next to the
finite-d theory; 2 learning curves; 3 n* against d and error against kappa = log n / log d; 4 the
verdict rule; 5 time to target; 6 failures, timeouts, skips and fit notes; paired comparisons;
definitions; 7 provenance.  "not estimable (reason)" cells become "not estimable [k]" with the
reasons as footnotes under each table.  A run with no ok record, a single d, only failures or no
provenance still gives a complete report that says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from harness.analysis import MIN_GROWTH, Analysis, analyse_run
from harness.store import Status
from reports import tables as T
from reports.contrast import (
    contrast_figures,
    definitions_text,
    headline_blocks,
    kappa_blocks,
    theory_blocks,
    verdict_rule_text,
    write_contrast_csvs,
)
from reports.figures import all_figures, headline_figure
from reports.overview import (
    cost_table,
    fit_notes_summary,
    fit_notes_table,
    run_overview,
    test_set_text,
)
from reports.render import to_html, to_markdown
from reports.savefig import figure_formats, parse_formats

DEFINITIONS = definitions_text()


def verdict_rule(min_growth: float = MIN_GROWTH) -> str:
    """The d^omega(1) verdict rule in words (identical in docs/metrics.md)."""
    return verdict_rule_text(min_growth)


def _warnings(a: Analysis) -> list[str]:
    out = []
    if len(a.records) == 0:
        out.append("The run has no records: nothing was measured yet.")
    elif a.n_ok == 0:
        out.append("The run has no ok record: no learning curve, n* or exponent can be "
                   "computed. See the failures table for the reasons.")
    if a.n_ok and a.records.loc[a.records["status"] == Status.OK, "d"].nunique() < 2:
        out.append("Fewer than two d values have ok records: no exponent is estimable.")
    if a.provenance is None:
        out.append("No provenance.json in the run folder: commit, versions and machine unknown.")
    if not a.spec:
        out.append("No spec.json in the run folder: eps defaults to 0.1 (absolute).")
    return out


def _figures(figs: list, empty: str) -> list[tuple[str, object]]:
    return [("figure", f) for f in figs] if figs else [("note", empty)]


def _footnoted(table: pd.DataFrame) -> list[tuple[str, object]]:
    """The table with "not estimable (reason)" as numbered footnotes under it."""
    table, notes = T.footnote_reasons(table)
    return [("table", table)] + ([("small", T.footnote_text(notes))] if notes else [])


def _footnote_tables(blocks: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """Every table of ``blocks`` with its "not estimable (reason)" cells as footnotes."""
    return [b for kind, obj in blocks
            for b in (_footnoted(obj) if kind == "table" else [(kind, obj)])]


def _grouped(a: Analysis, table: pd.DataFrame, what: str) -> list[tuple[str, object]]:
    """One collapsible group per task name (the first open when there is only one)."""
    groups = T.by_task(table, a)
    if not groups:
        return [("p", "(no rows)")]
    return [("details", (f"{task}: {what}, {len(g)} rows", _footnoted(g))) for task, g in groups]


def first_screen(a: Analysis, figs: dict) -> list[tuple[str, object]]:
    """What was run, the verdict and the headline figure.

    With a contrast: the paired kernel-minus-deep contrast table, the headline figure, then the
    verdict per learner (quick's eight learners made that table push the figure off the first
    screen); without one, the verdict per learner comes first."""
    name = a.spec.get("name", a.run_dir.name)
    blocks: list[tuple[str, object]] = [("h1", f"hierbench report: {name}"),
                                        ("h2", "What was run"), ("facts", run_overview(a))]
    blocks += [("note", text) for text in _warnings(a)]
    notes = fit_notes_summary(fit_notes_table(a))
    if notes:
        blocks.append(("note", notes))
    blocks.append(("h2", "Verdict: does beta grow with depth/degree?"))
    blocks += contrast_blocks(a)
    has_contrast = a.contrast is not None and not a.contrast.empty
    head = headline_figure(figs)
    if has_contrast and head is not None:
        blocks.append(("headline", head))
    blocks.append(("h3", "Verdict per learner"))
    verdict = T.verdict_table(a)
    sweep = ~verdict["why"].astype(str).str.startswith("one index value")
    if len(verdict) and not sweep.any():
        blocks.append(("p", "No verdict: every task family of this run has one depth/degree "
                            "value, so the growth of beta with depth/degree cannot be seen. "
                            "The exponents per configuration are in section 1."))
        verdict = verdict.iloc[0:0]
    verdict = verdict[sweep] if len(verdict) else verdict
    if len(verdict):  # compact on the first screen: the full table is in tables/verdicts.csv
        verdict = verdict.assign(**{"task family": verdict["task family"] + ", index "
                                    + verdict["index"].astype(str)}).drop(
            columns=["index", "family"])
    if verdict.empty and not len(T.verdict_table(a)):
        blocks.append(("p", "No verdict: the run has no task family with an estimable beta."))
    elif len(verdict):
        blocks += _footnoted(verdict)
    if not has_contrast and head is not None:
        blocks.append(("headline", head))
    return blocks


def contrast_blocks(a: Analysis) -> list[tuple[str, object]]:
    """The paired contrast on the first screen, above the verdict table: its definition, the
    table (reasons as footnotes) and the number of comparisons the report makes."""
    head = headline_blocks(a)[1:]  # without its own h2: the first screen's heading is above
    tables = [b for b in head if b[0] in ("table", "note")]
    words = " ".join(str(obj) for kind, obj in head if kind == "p")
    out: list[tuple[str, object]] = [("h3", "Contrast: kernel minus reference deep learner")]
    out += _footnote_tables(tables)
    out.append(("details", ("How the contrast is defined, and how many comparisons this "
                            "report makes", [("small", words)])))
    return out


def _blocks(a: Analysis, figs: dict) -> list[tuple[str, object]]:
    paired_beta, paired_err = T.paired_tables(a)
    head = headline_figure(figs)
    verdict_figs = [f for f in figs["verdict"] if f is not head]
    fit_notes = fit_notes_table(a)
    return [
        *first_screen(a, figs),
        ("nav", None),
        ("h2", "1. Exponents"),
        ("p", "beta: n*(eps) ~ d^beta; gamma: t*(eps) ~ d^gamma. '> x' marks a lower bound "
              "(censoring pins beta on one side only), '< x' an upper bound; [lo, hi] is the "
              "95 % CI. Theory beta: the task's predicted exponent for the learner's family."),
        *_grouped(a, T.exponent_table(a), "exponents per configuration and learner"),
        *_footnote_tables(theory_blocks(a, figs)),
        ("h2", "2. Learning curves"),
        *_figures(figs["curves"], "No ok records: no learning curves."),
        ("h2", "3. Sample complexity n* against d"),
        *([("figure", f) for f in figs["nstar"] if f is not head] or [
            ("p", "The n* figure is the headline figure above.") if figs["nstar"] else
            ("note", "No n* could be computed.")]),
        ("p", "n*(eps), time-to-target and the median error at a fixed n (the largest n every "
              "learner of that task and d ran; '(own)' when they share none) per curve. The "
              "median is over the seeds with an ok fit there, 'k of S seeds' where that is not "
              "all of them: the others were stopped by the adaptive search after two passes "
              "below eps (which leaves the slowest seeds, so the median reads high for that "
              "learner), or failed or timed out there (section 6)."),
        *_grouped(a, T.complexity_table(a), "n* per d and learner"),
        *kappa_blocks(figs),
        ("h2", "4. beta against depth/degree: the d^omega(1) check"),
        ("p", verdict_rule(a.min_growth)),
        *([("figure", f) for f in verdict_figs] or [("p", (
            "The verdict figure is the headline figure above." if figs["verdict"] else
            "No task family with two or more index values and estimable betas."))]),
        ("h2", "5. Time to target"),
        *_figures(figs["time"], "No time-to-target could be computed."),
        ("h2", "6. Failures, timeouts and skips"),
        ("table", T.failures_table(a)),
        ("h3", "Fit notes"),
        ("p", "Per learner: fits marked approximate (fewer Nystrom/Falkon centres than the "
              "target needs), fits that ended on their step/epoch budget rather than on a "
              "plateau, and of those the ones whose error was still above eps (more steps might "
              "have passed them, and so lowered n*; a fit already below eps that was cut short "
              "cannot raise n*), and the polynomial degree used (poly_features)."),
        ("table", fit_notes) if len(fit_notes) else
        ("p", "No fit was marked approximate or ended on its budget."),
        ("h3", "Cost per learner"),
        ("p", "Fit wall seconds of the ok fits (summed, and the slowest), and the peak resident "
              "memory of the learner's largest job: the process that ran it, imports included, "
              "i.e. what one worker needs (GiB = 2^30 bytes)."),
        ("table", cost_table(a)),
        ("h2", "Paired comparisons (shared seeds, hence shared test sets)"),
        ("p", "Delta beta with a paired bootstrap CI (the same seed resamples for both learners):"),
        *_footnoted(paired_beta),
        ("p", "Per-seed error ratios at the largest n both learners ran, at each task's largest "
              "d (Wilcoxon signed-rank test over the shared seeds). Where the adaptive search had "
              "stopped some of a learner's seeds there (two passes below eps), the shared seeds "
              "are its slowest ones, which tilts the comparison against it:"),
        ("table", paired_err),
        ("h2", "Definitions"),
        ("p", f"{a.eps.text()}. Bootstrap: {a.n_boot} resamples, generator seed {a.seed}, "
              "95 % intervals (bootstrap-t joined with Wald; docs/metrics.md)."),
        ("p", DEFINITIONS),
        ("p", "Test sets (the sd of a measured error of size eps, from each teacher's residual "
              f"kurtosis; docs/tasks.md): {test_set_text(a.records)}."),
        ("h2", "7. Provenance"),
        *_provenance(a),
    ]


def _provenance(a: Analysis) -> list[tuple[str, object]]:
    blocks: list[tuple[str, object]] = []
    if a.provenance is None:
        blocks.append(("note", "No provenance.json in the run folder."))
    else:
        blocks.append(("table", T.provenance_table(a)))
    spec = json.dumps(a.spec, indent=2, sort_keys=True, default=str) if a.spec else None
    blocks.append(("details", ("Spec (as validated)", [("pre", spec)])) if spec else
                  ("p", "(no spec.json)"))
    blocks.append(("p", f"Report generated {datetime.now(UTC).isoformat(timespec='seconds')}."))
    return blocks


def build_report(run_dir: str | Path, out_dir: str | Path | None = None, *, eps=None,
                 n_boot: int = 1000, seed: int = 0, min_growth: float | None = None,
                 formats: str | Iterable[str] | None = None) -> Path:
    """Analyse ``run_dir`` and write the report into ``out_dir`` (default ``RUN_DIR/report``).

    Writes report.md, report.html (self-contained), figures/*.png and, per ``formats``
    (default PNG and SVG; e.g. ``"png,svg,pdf"``, :func:`reports.savefig.parse_formats`),
    figures/*.svg|pdf, figures/text_boxes.json (the drawn text extents) and tables/*.csv;
    returns the report folder.  ``eps`` defaults to the spec's eps (absolute 0.1 when missing).
    """
    formats = parse_formats(formats)  # a wrong name fails before the analysis, not after
    a = analyse_run(run_dir, eps=eps, n_boot=n_boot, seed=seed, min_growth=min_growth)
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
    for old in (out / "figures").glob("*"):  # a format not written now must not look current
        if old.suffix in (".svg", ".pdf") and old.suffix[1:] not in formats:
            old.unlink()
    with figure_formats(formats):
        figs = all_figures(a, out / "figures")
        figs.update(contrast_figures(a, out / "figures"))
    T.write_csvs(a, out / "tables")
    write_contrast_csvs(a, out / "tables")
    blocks = _blocks(a, figs)
    (out / "report.md").write_text(to_markdown(blocks, out))
    title = f"hierbench report: {a.spec.get('name', Path(run_dir).name)}"
    (out / "report.html").write_text(to_html(blocks, title))
    return out


def read_tables(report_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The CSV tables of a built report, by name."""
    return {p.stem: pd.read_csv(p) for p in sorted(Path(report_dir, "tables").glob("*.csv"))}
