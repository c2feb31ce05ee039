"""The report's tables: display versions (formatted text) and CSV files (full numbers).

Display tables are what report.md, report.html and ``hierbench show`` print; the CSV files keep
every computed column (bootstrap replicates excepted) so that they can be re-analysed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import Analysis, CellKind
from reports.overview import cost_table, degree_text, fit_notes_table


def fmt(x, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; '' for missing values."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "" if x is None else str(x)
    return "" if not np.isfinite(x) else f"{x:.{digits}g}"


def _kv(params: dict) -> str:
    return ", ".join(f"{k} = {_val(v)}" for k, v in sorted(params.items()))


def _val(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def family_title(key: str) -> str:
    """A task family key (``toy{"r": 2}``) as words: ``toy (r = 2)``."""
    key = str(key)
    name, brace, rest = key.partition("{")
    try:
        params = json.loads(brace + rest) if brace else {}
    except json.JSONDecodeError:
        return key
    return f"{name} ({_kv(params)})" if params else name


def config_titles(records: pd.DataFrame, task: str) -> tuple[dict[str, str], str]:
    """Short facet titles of one task's configurations: ``task_label -> "p = 4"`` naming only
    the parameters that differ between the configurations, and the constant ones as words."""
    rows = records.loc[records["task"] == task, ["task_label", "task_params"]]
    configs = {lab: (p if isinstance(p, dict) else {})
               for lab, p in zip(rows["task_label"], rows["task_params"], strict=True)}
    keys = sorted({k for p in configs.values() for k in p})
    vary = [k for k in keys if len({json.dumps(p.get(k), default=str)
                                    for p in configs.values()}) > 1]
    const = {k: v for k, v in next(iter(configs.values()), {}).items() if k not in vary}
    short = {lab: _kv({k: p.get(k) for k in vary}) for lab, p in configs.items()}
    return short, (_kv(const) if const else "")


#: "not estimable (reason)" inside a cell
_NOT_ESTIMABLE = re.compile(r"not estimable \(([^()]*)\)")


def footnote_reasons(df: pd.DataFrame, notes: list[str] | None = None
                     ) -> tuple[pd.DataFrame, list[str]]:
    """Replace every "not estimable (reason)" in ``df`` by "not estimable [k]"; returns the new
    table and the numbered reasons (``notes[k-1]``), extending ``notes`` when given."""
    notes = [] if notes is None else notes

    def sub(m: re.Match) -> str:
        if m.group(1) not in notes:
            notes.append(m.group(1))
        return f"not estimable [{notes.index(m.group(1)) + 1}]"

    out = df.copy()
    for col in out.columns:
        out[col] = out[col].map(lambda v: _NOT_ESTIMABLE.sub(sub, v) if isinstance(v, str)
                                else v)
    return out, notes


def footnote_text(notes: list[str]) -> str:
    """The footnotes of :func:`footnote_reasons` as one line."""
    return "Not estimable because: " + "; ".join(f"[{i}] {n}" for i, n in
                                                  enumerate(notes, 1)) + "."


def _verdict_lookup(a: Analysis) -> dict:
    """(family_key, label) -> verdict, for families with a depth/degree sweep in the run."""
    v = a.verdicts
    if v.empty:
        return {}
    v = v[~v["reason"].astype(str).str.startswith("one index value")]
    return dict(zip(zip(v["family_key"], v["label"], strict=True), v["verdict"], strict=True))


def exponent_table(a: Analysis) -> pd.DataFrame:
    """Table 1: beta and gamma with CIs, censoring, theory and verdict per (task, learner)."""
    e = a.exponents
    cols = ["task", "learner", "family", "beta [95% CI]", "theory beta", "gamma wall [CI]",
            "gamma CPU [CI]", "bounded n*", "d values", "verdict"]
    if e.empty:
        return pd.DataFrame(columns=cols)
    look = _verdict_lookup(a)
    deg = degree_text(a)
    rows = []
    for _, r in e.iterrows():
        rows.append([r["task_label"], _with_degree(r["label"], deg.get((r["task_label"],
                                                                       r["label"]))),
                     r["family"], r["beta_text"],
                     fmt(r["theory_beta"]), r["gamma_wall_text"], r["gamma_cpu_text"],
                     _bounded(r), r["d_values"],
                     look.get((r["family_key"], r["label"]), "")])
    return pd.DataFrame(rows, columns=cols)


def _with_degree(label: str, degree: str | None) -> str:
    return f"{label} ({degree})" if degree else label


def _bounded(r: pd.Series) -> str:
    parts = []
    if r["n_censored"]:
        parts.append(f"{r['n_censored']} censored")
    if r["n_at_min"]:
        parts.append(f"{r['n_at_min']} at grid min")
    return ", ".join(parts) or "none"


ETOP_HEADER = "n* over E_top +- 2 se"


def _fixed_note(r) -> str:
    """' (own)' where the learners share no fixed n, and 'k of S seeds' where the median there is
    over fewer ok seeds than the curve has (seeds the adaptive search had stopped): ' (own; 1 of
    20 seeds)'."""
    parts = [] if r["common"] else ["own"]
    k, total = float(r["n_fixed_ok"]), int(r["n_seeds"])
    if np.isfinite(k) and int(k) < total:
        parts.append(f"{int(k)} of {total} seeds")
    return f" ({'; '.join(parts)})" if parts else ""


def complexity_table(a: Analysis) -> pd.DataFrame:
    """n*(eps), t*(eps) and the error at a fixed n per (task, d, learner); where E_top is a Monte
    Carlo estimate, also the range of n* over E_top +- 2 standard errors."""
    sc = a.complexity
    cols = ["task", "d", "learner", "n*", "censored by", "t* wall [s]", "t* CPU [s]",
            "error at fixed n [IQR]", "fixed n", "seeds"]
    if sc.empty:
        return pd.DataFrame(columns=cols)
    deg = degree_text(a, by=("task_label", "d", "label"))
    rows = []
    for _, r in sc.iterrows():
        err = (f"{fmt(r['err_fixed'])} [{fmt(r['err_fixed_q25'])}, {fmt(r['err_fixed_q75'])}]"
               if np.isfinite(float(r["err_fixed"])) else "")
        fixed = "" if not np.isfinite(float(r["n_fixed"])) else (
            f"{int(r['n_fixed'])}" + _fixed_note(r))
        tw = ("> " if r["bound"] == 1 else "") + fmt(r["t_wall"])
        tc = ("> " if r["bound"] == 1 else "") + fmt(r["t_cpu"])
        label = _with_degree(r["label"], deg.get((r["task_label"], r["d"], r["label"])))
        rows.append([r["task_label"], int(r["d"]), label, r["nstar_text"],
                     r["censor_reason"], tw if fmt(r["t_wall"]) else "",
                     tc if fmt(r["t_cpu"]) else "", err, fixed, int(r["n_seeds"]),
                     r.get("nstar_etop_text") or ""])
    out = pd.DataFrame(rows, columns=[*cols, ETOP_HEADER])
    # the E_top range only where some E_top is a Monte Carlo estimate (exact energies: no column)
    return out if (out[ETOP_HEADER] != "").any() else out[cols]


def slope_texts(v: pd.DataFrame) -> list[str]:
    """The slope of beta against the index as text: ``> 0.22 [0.175, 0.297]``; '' if none."""
    out = []
    for _, r in v.iterrows():
        out.append("" if not np.isfinite(float(r["slope"])) else (
            {"lower bound": "> ", "upper bound": "< "}.get(r["slope_kind"], "")
            + f"{r['slope']:.2f} [{fmt(r['slope_lo'])}, {fmt(r['slope_hi'])}]"))
    return out


def verdict_table(a: Analysis) -> pd.DataFrame:
    """The d^omega(1) verdict per (task family, learner)."""
    v = a.verdicts
    cols = ["task family", "index", "learner", "family", "beta by index",
            "slope of beta vs index [CI]", "verdict", "why", "theory expects"]
    if v.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for slope, (_, r) in zip(slope_texts(v), v.iterrows(), strict=True):
        rows.append([family_title(r["family_key"]), r["index_param"], r["label"], r["family"],
                     r["betas"],
                     slope, r["verdict"], r["reason"], r["expected"]])
    return pd.DataFrame(rows, columns=cols)


def failures_table(a: Analysis) -> pd.DataFrame:
    """Table 6: failures, timeouts and skips grouped by cause, with the reason."""
    f = a.failures
    cols = ["task", "learner", "status", "meaning", "count", "d", "n range", "seeds", "reason"]
    if f.empty:
        return pd.DataFrame(columns=cols)
    meaning = {CellKind.ADAPTIVE: "eps already reached (passing)",
               CellKind.STOPPED: "adaptive stop (censoring)",
               CellKind.RESOURCE: "over budget (censoring)", CellKind.FAILED: "failed",
               CellKind.TIMEOUT: "timeout", CellKind.SKIPPED: "skipped"}
    rows = [[r["task_label"], r["label"], r["status"], meaning.get(r["kind"], r["kind"]),
             int(r["count"]), r["d_values"], f"{int(r['n_min'])}-{int(r['n_max'])}",
             int(r["n_seeds"]), str(r["example"])[:200]] for _, r in f.iterrows()]
    return pd.DataFrame(rows, columns=cols)


def paired_tables(a: Analysis) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Delta beta per learner pair, and paired errors at the largest d of each task."""
    pb = a.paired_beta
    beta = pd.DataFrame({"task": pb["task_label"], "learner A": pb["label_a"],
                         "learner B": pb["label_b"], "beta_A - beta_B [CI]": pb["text"]})
    pe = a.paired_errors
    if len(pe):
        pe = pe[pe["d"] == pe.groupby("task_label")["d"].transform("max")]
    err = pd.DataFrame({
        "task": pe["task_label"], "d": pe["d"], "learner A": pe["label_a"],
        "learner B": pe["label_b"], "n": pe["n"], "shared seeds": pe["n_seeds"],
        "median log10(err_A/err_B)": pe["median_log10_ratio"].map(fmt),
        "A better on": [f"{w}/{k}" for w, k in zip(pe["a_wins"], pe["n_seeds"], strict=True)],
        "Wilcoxon p": pe["p_value"].map(fmt)})
    return beta, err


def provenance_table(a: Analysis) -> pd.DataFrame:
    """Provenance as (key, value) rows, nested dicts flattened with dots."""
    p = a.provenance
    if not p:
        return pd.DataFrame(columns=["key", "value"])
    flat = pd.json_normalize(p, sep=".").iloc[0].to_dict() if p else {}
    rows = [(k, v if isinstance(v, str) else json.dumps(v, default=str))
            for k, v in flat.items()]
    return pd.DataFrame(rows, columns=["key", "value"])


def by_task(display: pd.DataFrame, a: Analysis) -> list[tuple[str, pd.DataFrame]]:
    """A display table (first column: task configuration) split by task name, in order."""
    if display.empty:
        return []
    names = dict(zip(a.records["task_label"], a.records["task"], strict=True))
    task = display.iloc[:, 0].map(lambda lab: names.get(lab, str(lab).split("(")[0]))
    return [(str(t), g.reset_index(drop=True)) for t, g in display.groupby(task, sort=True)]


def write_csvs(a: Analysis, out: Path) -> dict[str, Path]:
    """All computed tables as CSV (numbers in full); returns name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    frames = {
        "exponents": a.exponents.drop(columns=["beta_boot", "beta_se_boot"], errors="ignore"),
        "verdicts": a.verdicts, "sample_complexity": a.complexity,
        "learning_curves": a.curves, "failures": a.failures,
        "paired_errors": a.paired_errors, "paired_beta": a.paired_beta,
        "exponent_table": exponent_table(a), "fit_notes": fit_notes_table(a),
        "costs": cost_table(a),
        "metric_curves": a.metric_curves,
    }
    paths = {}
    for name, frame in frames.items():
        paths[name] = out / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths
