"""``build_report(run_dir)``: report.md, report.html, figures (PNG + SVG) and tables (CSV).

Sections: the headline contrast (reports/contrast.py); 1 the exponent table next to the theory
(and the finite-d theory); 2 learning curves; 3 n* against d; 4 beta
against depth/degree (the d^omega(1) check, with the verdict rule); 5 time to target; 6 failures,
timeouts and skips; paired comparisons; 7 provenance.  A run with no ok record, a single d, only
failures or no provenance still gives a complete report that says so.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from harness.analysis import MIN_GROWTH, Analysis, analyse_run
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
from reports.figures import all_figures
from reports.render import to_html, to_markdown

DEFINITIONS = definitions_text()


def verdict_rule(min_growth: float = MIN_GROWTH) -> str:
    """The d^omega(1) verdict rule in words (identical in docs/metrics.md)."""
    return verdict_rule_text(min_growth)


def _summary(a: Analysis) -> list[tuple[str, object]]:
    df = a.records
    counts = df["status"].value_counts().to_dict() if len(df) else {}
    status = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ok", "failed", "timeout", "skipped"))
    seeds = sorted(df["seed"].unique().tolist()) if len(df) else []
    blocks: list[tuple[str, object]] = [
        ("p", f"Run folder: {a.run_dir.name}. {a.eps.text()}. Records: {len(df)} ({status}). "
              f"Seeds: {seeds}. Bootstrap: {a.n_boot} resamples, generator seed {a.seed}, "
              "95 % intervals (bootstrap-t joined with Wald; docs/metrics.md)."),
        ("p", DEFINITIONS),
    ]
    for text in _warnings(a):
        blocks.append(("note", text))
    return blocks


def _warnings(a: Analysis) -> list[str]:
    out = []
    if len(a.records) == 0:
        out.append("The run has no records: nothing was measured yet.")
    elif a.n_ok == 0:
        out.append("The run has no ok record: no learning curve, n* or exponent can be "
                   "computed. See the failures table for the reasons.")
    if a.n_ok and a.records.loc[a.records["status"] == "ok", "d"].nunique() < 2:
        out.append("Fewer than two d values have ok records: no exponent is estimable.")
    if a.provenance is None:
        out.append("No provenance.json in the run folder: commit, versions and machine unknown.")
    if not a.spec:
        out.append("No spec.json in the run folder: eps defaults to 0.1 (absolute).")
    return out


def _figures(figs: list, empty: str) -> list[tuple[str, object]]:
    return [("figure", f) for f in figs] if figs else [("note", empty)]


def _blocks(a: Analysis, figs: dict) -> list[tuple[str, object]]:
    name = a.spec.get("name", a.run_dir.name)
    paired_beta, paired_err = T.paired_tables(a)
    return [
        ("h1", f"hierbench report: {name}"), *_summary(a), *headline_blocks(a),
        ("h2", "1. Exponents"),
        ("p", "beta: n*(eps) ~ d^beta; gamma: t*(eps) ~ d^gamma. '> x' marks a lower bound "
              "(censoring pins beta on one side only), '< x' an upper bound; [lo, hi] is the "
              "95 % CI. Theory beta: the task's predicted exponent for the learner's family."),
        ("table", T.exponent_table(a)),
        *theory_blocks(a, figs),
        ("h2", "2. Learning curves"),
        *_figures(figs["curves"], "No ok records: no learning curves."),
        ("h2", "3. Sample complexity n* against d"),
        *_figures(figs["nstar"], "No n* could be computed."),
        ("p", "n*(eps), time-to-target and the median error at a fixed n (the largest n every "
              "learner of that task and d ran; '(own)' when they share none) per curve:"),
        ("table", T.complexity_table(a)),
        *kappa_blocks(figs),
        ("h2", "4. beta against depth/degree: the d^omega(1) check"),
        ("p", verdict_rule(a.min_growth)),
        *_figures(figs["beta_index"], "No task family with two or more index values and "
                                      "estimable betas."),
        ("table", T.verdict_table(a)),
        ("h2", "5. Time to target"),
        *_figures(figs["time"], "No time-to-target could be computed."),
        ("h2", "6. Failures, timeouts and skips"),
        ("table", T.failures_table(a)),
        ("h2", "Paired comparisons (shared seeds, hence shared test sets)"),
        ("p", "Delta beta with a paired bootstrap CI (the same seed resamples for both learners):"),
        ("table", paired_beta),
        ("p", "Per-seed error ratios at the largest n both learners ran, at each task's largest "
              "d (Wilcoxon signed-rank test over the shared seeds):"),
        ("table", paired_err),
        ("h2", "7. Provenance"),
        *_provenance(a),
    ]


def _provenance(a: Analysis) -> list[tuple[str, object]]:
    blocks: list[tuple[str, object]] = []
    if a.provenance is None:
        blocks.append(("note", "No provenance.json in the run folder."))
    else:
        blocks.append(("table", T.provenance_table(a)))
    blocks += [("h3", "Spec"), ("pre", json.dumps(a.spec, indent=2, sort_keys=True, default=str)
                                if a.spec else "(no spec.json)")]
    blocks.append(("p", f"Report generated {datetime.now(UTC).isoformat(timespec='seconds')}."))
    return blocks


def build_report(run_dir: str | Path, out_dir: str | Path | None = None, *, eps=None,
                 n_boot: int = 1000, seed: int = 0, min_growth: float | None = None) -> Path:
    """Analyse ``run_dir`` and write the report into ``out_dir`` (default ``RUN_DIR/report``).

    Writes report.md, report.html (self-contained), figures/*.png|svg and tables/*.csv; returns
    the report folder.  ``eps`` defaults to the spec's eps (absolute 0.1 when missing).
    """
    a = analyse_run(run_dir, eps=eps, n_boot=n_boot, seed=seed, min_growth=min_growth)
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
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
