"""The page of the diagnostics report: the statement (every sentence computed from the stored
fits), the displayed tables, and :func:`build_diagnostics_report`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from reports.diagnostics.analysis import Diag, analyse, correction_table, paired_ratio
from reports.diagnostics.figures import depth_figure, r2_over_training_figure, switch_end_figure
from reports.render import to_html, to_markdown
from reports.style import apply_style
from reports.tables import fmt


# --------------------------------------------------------------------------------------------
# the statement
# --------------------------------------------------------------------------------------------
def _ci(lo: float, hi: float) -> str:
    return "no interval" if not np.isfinite(lo) else f"95 % t-interval [{lo:+.3f}, {hi:+.3f}]"


def _delta_sentence(c: pd.DataFrame, variant: str, lvl: int) -> str | None:
    row = c[(c["variant"] == variant) & (c["block"] == 1) & (c["level"] == lvl)]
    if row.empty:
        return None
    r = row.iloc[0]
    return (f"for the level-{lvl} features it was {r['R2 at switch']:.3f} when block 2 "
            f"switched on (median step {r['switch step (median)']:.0f}) and {r['R2 at end']:.3f} "
            f"at the end: Delta = {r['delta']:+.3f}, {_ci(r['ci_lo'], r['ci_hi'])} over "
            f"{r['seeds']} seed(s) (per seed {r['per seed']}): {r['verdict']}")


def statement(a: Diag) -> list[str]:
    """The report's answer, in sentences computed from the measurements."""
    out = []
    c = a.correction
    e2e = _delta_sentence(c, "end_to_end", 1) if len(c) else None
    if e2e is None:
        out.append("No ok end-to-end fit with a block-2 switch was measured: whether lower-layer "
                   "features improve after higher layers start training cannot be answered.")
    else:
        v1 = c[(c["variant"] == "end_to_end") & (c["block"] == 1) & (c["level"] == 1)].iloc[0]
        answer = {"improved": "Yes", "got worse": "No (they got worse)",
                  "unchanged": "No (unchanged)"}.get(v1["verdict"], "Not clearly")
        parts = [s for s in (e2e, _delta_sentence(c, "end_to_end", 2)) if s]
        out.append(f"Did lower-layer features improve after higher layers started training? "
                   f"{answer}. End-to-end, block 1's probe R^2: " + "; ".join(parts) + ".")
    out += _layerwise_check(a)
    d = paired_ratio(a.fits, "layerwise", "end_to_end")
    if d[3]:
        ci = "no interval" if not np.isfinite(d[1]) else f"95 % interval [{d[1]:.2f}, {d[2]:.2f}]"
        out.append(f"Final test error (normalised MSE, geometric mean over seeds): end-to-end "
                   f"{_mean_err(a, 'end_to_end')}, layerwise {_mean_err(a, 'layerwise')}; paired "
                   f"ratio layerwise / end-to-end = {d[0]:.2f}, {ci} over {d[3]} seed(s).")
    if len(a.depth) > 1:
        parts = [f"m={int(r['m'])}: {r['test error']:.4f}" for _, r in a.depth.iterrows()]
        out.append("Backward depth m (gradient reaches the m blocks below the newest): final "
                   "test error (geometric mean) " + ", ".join(parts) + ".")
    out += _failures(a)
    return out


def _mean_err(a: Diag, variant: str) -> str:
    r = a.errors[a.errors["variant"] == variant]
    if r.empty or not np.isfinite(r.iloc[0]["test error"]):
        return "n/a"
    r = r.iloc[0]
    ci = ("no interval" if not np.isfinite(r["ci_lo"])
          else f"95 % interval [{r['ci_lo']:.4f}, {r['ci_hi']:.4f}]")
    return f"{r['test error']:.4f} ({ci})"


def _layerwise_check(a: Diag) -> list[str]:
    """Built-in checks: layerwise Delta exactly 0; frozen blocks unchanged in every fit."""
    out = []
    lw = a.per_seed[a.per_seed["variant"] == "layerwise"]
    if len(lw):
        ok = bool(np.all(lw["delta"].to_numpy() == 0))
        out.append("Layerwise (every block frozen after its stage): Delta of every lower block's "
                   "R^2 is " + ("exactly 0 for every seed, as it must be (check passed)."
                                if ok else f"NOT 0 (max |Delta| = {lw['delta'].abs().max():.3g}):"
                                " the freezing check FAILED."))
    changes = [f["frozen_max_change"] for f in a.fits
               if f["status"] == "ok" and f["frozen_max_change"] is not None]
    if changes:
        worst = max(changes)
        out.append(f"Frozen-block check over {len(changes)} fit(s) with frozen blocks: largest "
                   f"parameter change of a frozen block = {worst:.3g} "
                   f"({'passed' if worst == 0 else 'FAILED'}).")
    return out


def _failures(a: Diag) -> list[str]:
    bad = [f for f in a.fits if f["status"] != "ok"]
    if not bad:
        return []
    reasons = "; ".join(f"{f['key']}: {f['reason']}" for f in bad[:5])
    return [f"{len(bad)} fit(s) failed and are left out of every number: {reasons}."]


# --------------------------------------------------------------------------------------------
# tables and the report
# --------------------------------------------------------------------------------------------
def _display_correction(c: pd.DataFrame) -> pd.DataFrame:
    if c.empty:
        return c
    out = c[["variant", "block", "level", "seeds", "switch step (median)", "R2 at switch",
             "R2 at end"]].copy()
    for col in ("R2 at switch", "R2 at end"):
        out[col] = out[col].map(lambda x: f"{x:.3f}")
    out["Delta [95 % CI]"] = [f"{r.delta:+.3f} " + (f"[{r.ci_lo:+.3f}, {r.ci_hi:+.3f}]"
                                                      if np.isfinite(r.ci_lo) else "")
                              for r in c.itertuples(index=False)]
    out["per seed"], out["verdict"] = c["per seed"], c["verdict"]
    return out


def _display_errors(e: pd.DataFrame) -> pd.DataFrame:
    if e.empty:
        return e
    out = e[["variant", "stands for m", "ok", "failed"]].copy()
    out["test error: geo. mean [95 % CI]"] = [
        f"{fmt(r['test error'], 4)} [{fmt(r.ci_lo, 4)}, {fmt(r.ci_hi, 4)}]"
        for _, r in e.iterrows()]
    out["per seed"] = e["per seed"]
    out["train error"] = e["train error"].map(lambda x: fmt(x, 4))
    out["frozen max change"] = e["frozen max change"].map(lambda x: "-" if x is None
                                                            or pd.isna(x) else fmt(x))
    out["fit s (mean)"] = e["fit s (mean)"].map(lambda x: fmt(x, 3))
    return out


def _setup(a: Diag) -> str:
    c = a.cfg
    shares = next((f["level_shares"] for f in a.fits if f["status"] == "ok"), None)
    share_txt = ", ".join(f"{s:.3f}" for s in shares) if shares else "n/a"
    return (f"Task {c.task.name} (d = {c.task.d}, params {c.task.params}; level variance shares "
            f"of the seed-{a.fits[0]['seed'] if a.fits else '?'} teacher: {share_txt}); n = {c.n} "
            f"training samples, noiseless test set of {c.n_test}, probe set of {c.n_probe} "
            f"({c.probe.train_fraction:.0%} fit the probes, the rest scores them), seeds "
            f"{c.seeds}. Shared learner parameters: {c.learner or '{}'}. Checkpoints every "
            f"{c.probe.every} steps, at every stage start and on the final net.")


DEFINITIONS = (
    "Probe: ridge regression with a free intercept from the standardised hidden representation "
    "of block b to the teacher's level-l features, ridge chosen by exact leave-one-out on the "
    "probe-train half; R^2 = 1 - sum ||F - F_hat||^2 / sum ||F - mean F||^2 pooled over the "
    "level's features, on the probe-test half. Delta = R^2 on the final net minus R^2 right "
    "after block b + 1 switched on; 95 % Student t-intervals over seeds. Verdict: improved / got "
    "worse when the interval excludes 0, unchanged when every Delta is exactly 0, otherwise no "
    "clear change. Test error: normalised MSE on the noiseless test set, summarised by the "
    "geometric mean over seeds with a 95 % t-interval on the log scale. Details: "
    "docs/diagnostics.md.")


def _blocks(a: Diag, figs: dict) -> list[tuple[str, object]]:
    def fig_or_note(key: str, text: str):
        return ("figure", figs[key]) if figs.get(key) else ("note", text)

    wall = _wall(a.run_dir)
    return [
        ("h1", f"Backward feature correction: {a.cfg.name}"),
        *(("p", s) for s in statement(a)),
        ("h2", "1. Setup"), ("p", _setup(a)), ("p", DEFINITIONS),
        ("h2", "2. Probe R^2 over training: end-to-end vs layerwise"),
        fig_or_note("r2", "No end-to-end or layerwise checkpoints."),
        ("h2", "3. Did lower-layer features improve after higher layers switched on?"),
        fig_or_note("switch", "No stage switches were measured."),
        ("table", _display_correction(a.correction)),
        ("h2", "4. How much backward is needed (backward depth m)"),
        fig_or_note("depth", "No backward-depth fits."),
        ("table", _display_depth(a.depth)),
        ("h2", "5. Final test error per variant"),
        ("table", _display_errors(a.errors)),
        ("h2", "6. Provenance"),
        ("p", f"Run folder: {a.run_dir.name}. {len(a.fits)} stored fit(s); total fit time "
              f"{sum(f['fit_wall_s'] or 0 for f in a.fits):.0f} s; {wall}"),
        ("pre", a.cfg.model_dump_json(indent=2)),
        ("p", f"Report generated {datetime.now(UTC).isoformat(timespec='seconds')}."),
    ]


def _display_depth(d: pd.DataFrame) -> pd.DataFrame:
    if d.empty:
        return d
    out = d[["m", "fit", "seeds"]].copy()
    out["test error: geo. mean [95 % CI]"] = [
        f"{fmt(r['test error'], 4)} [{fmt(r['error_lo'], 4)}, {fmt(r['error_hi'], 4)}]"
        for _, r in d.iterrows()]
    for col in [c for c in d.columns if c.startswith("R2 ") and not c.endswith((" lo", " hi"))]:
        out[col.replace(">", " -> ")] = [f"{r[col]:.3f} [{fmt(r[col + ' lo'])}, "
                                         f"{fmt(r[col + ' hi'])}]" for _, r in d.iterrows()]
    return out


def _wall(run_dir: Path) -> str:
    import json

    p = run_dir / "provenance.json"
    if not p.is_file():
        return "no provenance.json."
    prov = json.loads(p.read_text())
    return (f"last session {prov.get('started_at')} to {prov.get('finished_at')}, wall "
            f"{prov.get('wall_s', float('nan')):.0f} s with {prov.get('workers')} worker(s) x "
            f"{prov.get('threads_per_job')} thread(s); commit {prov.get('git_commit')}; "
            f"{prov.get('cpu_count')} cores.")


def build_diagnostics_report(run_dir: str | Path) -> Path:
    """Write diagnostics.md / .html, figures and CSV tables; returns the report folder."""
    a = analyse(run_dir)
    out = Path(run_dir) / "report"
    fig_dir, tab_dir = out / "figures", out / "tables"
    apply_style()
    figs = {"r2": r2_over_training_figure(a, fig_dir), "switch": switch_end_figure(a, fig_dir),
            "depth": depth_figure(a, fig_dir)}
    tab_dir.mkdir(parents=True, exist_ok=True)
    a.ck.to_csv(tab_dir / "diag_checkpoints.csv", index=False)
    a.per_seed.to_csv(tab_dir / "diag_correction_per_seed.csv", index=False)
    correction_table(a.per_seed, levels="all").to_csv(tab_dir / "diag_correction.csv",
                                                      index=False)
    a.depth.to_csv(tab_dir / "diag_backward_depth.csv", index=False)
    a.errors.to_csv(tab_dir / "diag_errors.csv", index=False)
    blocks = _blocks(a, figs)
    (out / "diagnostics.md").write_text(to_markdown(blocks, out))
    (out / "diagnostics.html").write_text(to_html(blocks, f"diagnostics: {a.cfg.name}"))
    return out
