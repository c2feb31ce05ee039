"""Complexity analysis of a run: learning curves, n*(eps), t*(eps), exponents, verdicts.

The definitions are those of docs/metrics.md, implemented exactly.  This package's entry point is
:func:`analyse_run`; the work is split over

* :mod:`harness.analysis.core` -- eps thresholds, per-seed matrices, the lucky-dip rule, n*
  interpolation on the median curve, bounds;
* :mod:`harness.analysis.curves` -- learning curves, error at fixed n, failures, paired errors;
* :mod:`harness.analysis.complexity` -- n*(eps), t*(eps) per curve; per-seed intervals; the
  bootstrap resamples (paired by teacher);
* :mod:`harness.analysis.censored` -- the interval-censored maximum likelihood, batched;
* :mod:`harness.analysis.intervals` -- studentised bootstrap intervals;
* :mod:`harness.analysis.exponents` -- beta, gamma with CIs, paired delta beta;
* :mod:`harness.analysis.theory` -- the finite-d theory curves and their slopes;
* :mod:`harness.analysis.verdict` -- grows / bounded / not enough evidence, and the paired
  kernel-minus-deep contrast;
* :mod:`harness.analysis.kappa` -- test error against kappa = log n / log d.

Typical use::

    a = analyse_run(run_dir)          # every table, eps and verdict settings from the spec
    a.contrast, a.exponents, a.verdicts, a.kappa
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.complexity import sample_complexity
from harness.analysis.core import CellKind, parse_eps, prepare
from harness.analysis.curves import (
    error_at_fixed_n,
    failures,
    learning_curves,
    metric_curves,
    paired_errors,
)
from harness.analysis.exponents import exponents, paired_beta
from harness.analysis.kappa import kappa_curves, kappa_thresholds
from harness.analysis.theory import theory_table
from harness.analysis.verdict import MIN_GROWTH, contrast, reference_label, verdicts
from harness.experiment import Eps
from harness.store import DB_NAME, JSON_COLUMNS, Status, column_names, metric_columns, results_frame
from learners.base import Family

__all__ = [
    "Eps", "parse_eps", "load_records", "load_spec", "load_provenance", "learning_curves",
    "sample_complexity", "exponents", "verdicts", "failures", "error_at_fixed_n", "paired_errors",
    "paired_beta", "MIN_GROWTH", "RESULTS_FILE", "Analysis", "analyse_run", "contrast",
    "reference_label", "kappa_curves", "kappa_thresholds", "theory_table", "verdict_settings",
    "CellKind", "metric_curves", "normalise_records",
]

RESULTS_FILE = DB_NAME
NUMERIC = ("d", "n", "seed", "test_error", "train_error", "fit_wall_s", "fit_cpu_s",
           "predict_wall_s", "peak_mem_bytes", "n_test", "hierarchy_index", "top_share", "threads")


def load_records(run_dir: str | Path) -> pd.DataFrame:
    """All records of a run as a DataFrame with the Record columns (JSON columns parsed to dicts).

    Reads ``RUN_DIR/results.sqlite`` read-only through :func:`harness.store.results_frame`.  A
    missing database or table gives an empty frame with the same columns.
    """
    try:
        df = results_frame(run_dir)
    except (FileNotFoundError, sqlite3.Error, pd.errors.DatabaseError):
        df = pd.DataFrame(columns=column_names())
    return normalise_records(df)


def _as_dict(v: Any) -> dict:
    if isinstance(v, dict):
        return v
    if isinstance(v, str) and v:
        try:
            out = json.loads(v)
        except ValueError:
            return {}
        return out if isinstance(out, dict) else {}
    return {}


def normalise_records(df: pd.DataFrame) -> pd.DataFrame:
    """Fill missing Record columns, parse JSON columns, make numeric columns numeric.

    ``top_share`` and ``hierarchy_index`` fall back to ``task_info`` when their column is empty;
    ``family`` defaults to ``baseline``; ``label`` / ``task_label`` default to the registry names.
    """
    df = df.copy()
    for col in column_names():
        if col not in df:
            df[col] = None
    for col in JSON_COLUMNS:
        df[col] = df[col].map(_as_dict).astype(object)
    for col in (*NUMERIC, *metric_columns()):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    for col, key in (("top_share", "top_share"), ("hierarchy_index", "hierarchy_index")):
        alt = pd.to_numeric(df["task_info"].map(lambda i, k=key: i.get(k)), errors="coerce")
        df[col] = df[col].fillna(alt)
    for col in ("d", "n", "seed"):
        df = df[df[col].notna()] if len(df) else df
        df[col] = df[col].astype(np.int64)
    df["family"] = df["family"].fillna(str(Family.BASELINE)).astype(str)
    df["label"] = df["label"].fillna(df["learner"]).astype(str)
    df["task_label"] = df["task_label"].fillna(df["task"]).astype(str)
    df["status"] = df["status"].astype(str)
    return df.reset_index(drop=True)


def _read_json(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_spec(run_dir: str | Path) -> dict:
    """``RUN_DIR/spec.json`` as a dict ({} when missing or unreadable)."""
    return _read_json(Path(run_dir) / "spec.json") or {}


def load_provenance(run_dir: str | Path) -> dict | None:
    """``RUN_DIR/provenance.json`` as a dict, or None when missing or unreadable."""
    return _read_json(Path(run_dir) / "provenance.json")


@dataclass
class Analysis:
    """Every table of a run's analysis (see the functions that compute each one)."""

    run_dir: Path
    spec: dict
    provenance: dict | None
    eps: Eps
    n_boot: int
    seed: int
    min_growth: float
    records: pd.DataFrame
    curves: pd.DataFrame = field(repr=False)
    complexity: pd.DataFrame = field(repr=False)
    exponents: pd.DataFrame = field(repr=False)
    verdicts: pd.DataFrame = field(repr=False)
    failures: pd.DataFrame = field(repr=False)
    paired_errors: pd.DataFrame = field(repr=False)
    paired_beta: pd.DataFrame = field(repr=False)
    #: the paired kernel-minus-deep contrast, one row per (family, non-hierarchical learner)
    contrast: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    #: test error against kappa = log n / log d per (task_label, d, label, n)
    kappa: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    #: kernel thresholds kappa_q(d) = log N_q(d) / log d per (task_label, d, q)
    kappa_thresholds: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    #: the finite-d theory curve n_theory(d) per (task_label, label, d)
    theory: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    #: label of the reference end-to-end deep learner of the contrast (None: none in the run)
    reference: str | None = None
    #: every registered metric's median and IQR over seeds per (task_label, d, label, n, metric)
    metric_curves: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def n_ok(self) -> int:
        return int((self.records["status"] == Status.OK).sum()) if len(self.records) else 0


def verdict_settings(spec: dict) -> tuple[str | None, float]:
    """(reference label or None, min_growth) from the spec's optional ``verdict`` table."""
    v = (spec or {}).get("verdict") or {}
    mg = v.get("min_growth")
    return v.get("reference"), float(mg) if mg is not None else MIN_GROWTH


def analyse_run(run_dir: str | Path, eps: Any = None, n_boot: int = 1000, seed: int = 0,
                min_growth: float | None = None) -> Analysis:
    """Load a run folder and compute all tables.

    ``eps`` defaults to the spec's eps; ``min_growth`` to the spec's ``verdict.min_growth``
    (0.5 when absent); the contrast's reference learner is the spec's ``verdict.reference`` or
    the first learner of family "hierarchical" (see :func:`reference_label`).
    """
    run_dir = Path(run_dir)
    spec = load_spec(run_dir)
    eps = parse_eps(eps if eps is not None else spec)
    _, spec_growth = verdict_settings(spec)
    min_growth = spec_growth if min_growth is None else float(min_growth)
    df = load_records(run_dir)
    exp = exponents(df, eps, n_boot=n_boot, seed=seed)
    ref = reference_label(exp, spec)
    curves = learning_curves(df)
    complexity = sample_complexity(df, eps)
    return Analysis(
        run_dir=run_dir, spec=spec, provenance=load_provenance(run_dir), eps=eps, n_boot=n_boot,
        seed=seed, min_growth=min_growth, records=df, curves=curves,
        complexity=complexity, exponents=exp,
        verdicts=verdicts(exp, min_growth=min_growth), failures=failures(df),
        paired_errors=paired_errors(df), paired_beta=paired_beta(exp),
        contrast=contrast(exp, ref, min_growth=min_growth),
        kappa=kappa_curves(curves, complexity), kappa_thresholds=kappa_thresholds(df),
        theory=theory_table(prepare(df, eps), eps) if len(df) else theory_table(df, eps),
        reference=ref, metric_curves=metric_curves(df),
    )
