"""What a run was, in a few lines, and how its fits ended (approximate, on budget, degree used).

* :func:`run_overview` -- tasks (with their parameter values), learners (with their families),
  the d and n ranges, the seeds, the records by status, eps and the wall time (provenance's
  started/finished, else the sum of the fit times): the first table of the report;
* :func:`fit_notes_table` -- per learner: ok fits, how many the learner marked approximate
  (``fit_info["approximate"]``: Nystrom/Falkon with fewer centres than the target needs) and how
  many ended on their step/epoch budget (``fit_info["budget_exhausted"]``), of those how many
  had not reached eps (test error > the record's threshold: more steps might have passed them
  and so lowered n*; one already below eps cannot raise n* by stopping early), and the
  polynomial degree used (``fit_info["degree"]``, poly_features);
* :func:`degree_text` -- "degree 3" / "degree 2-4" per (task configuration, learner), to label
  poly_features rows;
* :func:`cost_table` -- per learner: fit seconds (summed, slowest) and the peak resident memory
  of its largest job (GiB = 2^30 bytes), with where that job was (section 6 of the report; the
  first screen keeps to the verdict).  The memory is the record's ``peak_mem_bytes``: the
  process that ran the job, its imports included, so it is what one worker needs (a timer's
  "maximum resident set size" of the whole run is not: the harness resets each process's
  high-water mark before every job, and the kernel reports the reset value to the parent, so
  such a figure sees each worker's last job only).
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd

from harness.analysis import Analysis
from harness.store import STATUSES, Status

#: the learner whose fit_info "degree" labels its rows (the polynomial degree it chose)
DEGREE_LEARNERS = ("poly_features",)


def _range(values) -> str:
    v = sorted({int(x) for x in values})
    if not v:
        return "none"
    shown = ", ".join(map(str, v)) if len(v) <= 6 else f"{v[0]}, {v[1]}, ..., {v[-1]}"
    return f"{v[0]} to {v[-1]} ({len(v)} values: {shown})" if len(v) > 1 else str(v[0])


def _duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "unknown"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _wall(a: Analysis) -> str:
    df = a.records
    fit = pd.to_numeric(df.get("fit_wall_s", pd.Series(dtype=float)), errors="coerce").sum()
    p = a.provenance or {}
    try:
        start = datetime.fromisoformat(str(p["started_at"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(p["finished_at"]).replace("Z", "+00:00"))
        run = _duration((end - start).total_seconds()) + f" (started {start:%Y-%m-%d %H:%M} UTC)"
    except (KeyError, TypeError, ValueError):
        run = "unknown (no start/finish in provenance)"
    return f"{run}; fit time summed over jobs: {_duration(float(fit))}"


def _task_text(df: pd.DataFrame) -> str:
    parts = []
    for task, g in df.groupby("task", sort=True):
        values: dict[str, set] = {}
        for p in g["task_params"]:
            for k, v in (p if isinstance(p, dict) else {}).items():
                values.setdefault(k, set()).add(json.dumps(v, default=str))
        params = "; ".join(f"{k} = {', '.join(sorted(vs, key=_num_key))}"
                           for k, vs in sorted(values.items()))
        n_conf = g["task_label"].nunique()
        parts.append(f"{task} ({params})" + (f", {n_conf} configurations" if n_conf > 1 else "")
                     if params else task)
    return "; ".join(parts)


def _num_key(s: str):
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def run_overview(a: Analysis) -> pd.DataFrame:
    """The "what was run" table: (item, value) rows."""
    df = a.records
    if not len(df):
        return pd.DataFrame({"item": ["records"], "value": ["none: nothing was measured yet"]})
    counts = df["status"].value_counts().to_dict()
    status = ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES if counts.get(s, 0))
    fams = df.groupby("label", sort=True)["family"].first()
    seeds = sorted(int(s) for s in df["seed"].unique())
    rows = [
        ("tasks", _task_text(df)),
        ("learners", ", ".join(f"{lab} ({fam})" for lab, fam in fams.items())),
        ("d", _range(df["d"])),
        ("n", _range(df["n"])),
        ("seeds", f"{len(seeds)} ({', '.join(map(str, seeds))})" if len(seeds) <= 8
         else f"{len(seeds)} ({seeds[0]} to {seeds[-1]})"),
        ("target", f"{a.eps.text()}; energies by degree {energy_text(df)}"),
        ("fits", f"{len(df)} ({status})"),
        ("wall time", _wall(a)),
    ]
    return pd.DataFrame(rows, columns=["item", "value"])


def energy_text(df: pd.DataFrame) -> str:
    """How each task configuration's energies by degree (hence E_top and relative eps) were
    computed: "exact" for all, or the configurations with a Monte Carlo estimate (E_top +- se)."""
    if "task_info" not in df or not len(df):
        return "unknown"
    info = df.drop_duplicates(["task_label", "d", "seed"])
    method = info["task_info"].map(lambda i: i.get("energy_method") if isinstance(i, dict)
                                   else None)
    if method.isna().all():
        return "not reported by the tasks"
    if (method == "exact").all():
        return "exact for every configuration"
    rows = info[method != "exact"]
    parts = []
    for (task, d), g in rows.groupby(["task_label", "d"], sort=True):
        se = pd.to_numeric(g["task_info"].map(lambda i: i.get("top_share_se")), errors="coerce")
        top = pd.to_numeric(g["top_share"], errors="coerce")
        kind = g["task_info"].iloc[0].get("energy_method") or "unknown"
        parts.append(f"{task} d = {d}: {kind}, E_top {top.mean():.3g} +- {se.max():.2g} "
                     f"(a relative eps inherits this error; n* is shown over E_top +- 2 se)")
    return "exact except " + "; ".join(parts)


def test_set_text(df: pd.DataFrame) -> str:
    """The test-set sizes per task configuration and, where the residual kurtosis kappa is
    known, the predicted standard error of a test error of size eps as a fraction of eps,
    sqrt((max(kappa, 3) - 1) / n_test) (docs/tasks.md, "Test-set size"; the target is <= 0.1,
    which ``n_test = "auto"`` meets unless capped)."""
    if "n_test" not in df or not len(df):
        return "unknown"
    info = df.drop_duplicates(["task_label", "d", "seed"])
    n = pd.to_numeric(info["n_test"], errors="coerce")

    def get(key):
        return info["task_info"].map(lambda i: i.get(key) if isinstance(i, dict) else None)

    kappa = pd.to_numeric(get("residual_kurtosis"), errors="coerce")
    rule = get("n_test_rule")
    parts = []
    for task, g in info.assign(kappa=kappa, n=n, rule=rule).groupby("task_label", sort=True):
        rules = set(g["rule"].dropna())
        how = f" ({'auto' if 'auto' in rules else 'fixed'})" if rules else ""
        text = f"{task}: n_test = {_span(g['n'])}{how}"
        if g["kappa"].notna().any():
            rel = np.sqrt((np.maximum(g["kappa"], 3.0) - 1.0) / g["n"])
            text += f", sd of an error of size eps <= {rel.max():.2f} eps"
        else:
            text += ", sd not known (no residual kurtosis)"
        parts.append(text)
    return "noiseless points per teacher; " + "; ".join(parts)


def _span(values: pd.Series) -> str:
    v = values.dropna()
    if not len(v):
        return "unknown"
    lo, hi = int(v.min()), int(v.max())
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def _info(df: pd.DataFrame, key: str) -> pd.Series:
    return df["fit_info"].map(lambda i: i.get(key) if isinstance(i, dict) else None)


def degree_text(a: Analysis, by: tuple[str, ...] = ("task_label", "label")) -> dict:
    """``key -> "degree 3"`` (or "degree 2-4") for the poly_features rows, keyed by ``by``."""
    df = a.records
    if not len(df) or "fit_info" not in df:
        return {}
    df = df[(df["status"] == Status.OK) & df["learner"].isin(DEGREE_LEARNERS)].copy()
    df["degree_used"] = pd.to_numeric(_info(df, "degree"), errors="coerce")
    df = df[df["degree_used"].notna()]
    out = {}
    for key, g in df.groupby(list(by), sort=True):
        lo, hi = int(g["degree_used"].min()), int(g["degree_used"].max())
        key = key[0] if len(by) == 1 else key
        out[key] = f"degree {lo}" if lo == hi else f"degree {lo}-{hi}"
    return out


def fit_notes_table(a: Analysis) -> pd.DataFrame:
    """Per learner: ok fits, approximate fits, fits that ended on their budget (and how many of
    those had not reached eps: test error > the record's threshold), degree used."""
    cols = ["learner", "ok fits", "approximate", "ended on budget", "on budget above eps",
            "degree used", "approximation reason (first)"]
    df = a.records
    if not len(df) or "fit_info" not in df:
        return pd.DataFrame(columns=cols)
    ok = df[df["status"] == Status.OK].copy()
    ok["approx"] = _info(ok, "approximate").map(lambda v: v is True)
    ok["budget"] = _info(ok, "budget_exhausted").map(lambda v: v is True)
    ok["why"] = _info(ok, "approx_reason")
    thr = a.eps.threshold(ok["top_share"].to_numpy()) if "top_share" in ok else np.nan
    ok["above"] = ~(pd.to_numeric(ok["test_error"], errors="coerce").to_numpy() <= thr)
    degrees = degree_text(a, by=("label",))
    rows = []
    for label, g in ok.groupby("label", sort=True):
        why = g.loc[g["approx"], "why"].dropna()
        rows.append([label, len(g), int(g["approx"].sum()), int(g["budget"].sum()),
                     int((g["budget"] & g["above"]).sum()),
                     degrees.get(label, ""), str(why.iloc[0]) if len(why) else ""])
    table = pd.DataFrame(rows, columns=cols)
    keep = (table["approximate"] > 0) | (table["ended on budget"] > 0) | (
        table["degree used"] != "")
    return table[keep].reset_index(drop=True)


def fit_notes_summary(table: pd.DataFrame) -> str | None:
    """One compact sentence for the first screen when some fits were approximate or ended on
    budget: "Fit notes: approximate: krr 3 of 200; ended on their budget (of them above eps):
    mlp 114 of 292 (52), ... (see 'Fit notes' below)."."""
    approx = [f"{r['learner']} {r['approximate']} of {r['ok fits']}"
              for _, r in table.iterrows() if r["approximate"]]
    budget = [f"{r['learner']} {r['ended on budget']} of {r['ok fits']} "
              f"({r['on budget above eps']})" for _, r in table.iterrows() if r["ended on budget"]]
    parts = ([f"approximate: {', '.join(approx)}"] if approx else []) + (
        [f"ended on their budget (of them above eps): {', '.join(budget)}"] if budget else [])
    return ("Fit notes: " + "; ".join(parts) + " (see 'Fit notes' below).") if parts else None


def _peak_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Records with a recorded peak memory (any status: a job killed at the memory cap has one)."""
    if "peak_mem_bytes" not in df or not len(df):
        return df.iloc[0:0]
    mem = pd.to_numeric(df["peak_mem_bytes"], errors="coerce")
    return df.assign(mem=mem)[mem.notna() & (mem > 0)]


def _job_text(r) -> str:
    status = "" if r["status"] == Status.OK else f", {r['status']}"
    return f"{r['task_label']}, d = {int(r['d'])}, n = {int(r['n'])}{status}"


def cost_table(a: Analysis) -> pd.DataFrame:
    """Per learner: ok fits, fit wall seconds summed and of the slowest ok fit [s], and the peak
    resident memory of its largest job [GiB] with that job's task configuration, d and n."""
    cols = ["learner", "ok fits", "fit s (sum)", "slowest fit (s)", "peak memory (GiB)",
            "largest job"]
    df = a.records
    if not len(df):
        return pd.DataFrame(columns=cols)
    ok = df[df["status"] == Status.OK]
    fit = pd.to_numeric(ok.get("fit_wall_s", pd.Series(index=ok.index, dtype=float)),
                        errors="coerce")
    mem = _peak_rows(df)
    rows = []
    for label in sorted(set(df["label"])):
        f = fit[ok["label"] == label].dropna()
        m = mem[mem["label"] == label]
        top = m.loc[m["mem"].idxmax()] if len(m) else None
        rows.append([label, int((ok["label"] == label).sum()),
                     round(float(f.sum()), 1) if len(f) else None,
                     round(float(f.max()), 2) if len(f) else None,
                     round(float(top["mem"]) / 2**30, 2) if top is not None else None,
                     _job_text(top) if top is not None else "not recorded"])
    return pd.DataFrame(rows, columns=cols)
