"""The report built from a synthetic results.sqlite (Record schema): files, tables, edge cases."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from harness.store import Record
from reports import build_report, read_tables, show_summary
from reports.synthetic import demo_run, write_run

FIGURES = ["learning_curves_toy", "nstar_vs_d_toy", "time_vs_d_toy", "verdict",
           "nstar_theory_toy", "kappa_toy"]
TABLES = ["exponents", "exponent_table", "verdicts", "sample_complexity", "learning_curves",
          "failures", "paired_errors", "paired_beta", "fit_notes", "costs", "contrast",
          "contrast_table", "kappa", "kappa_thresholds", "theory", "metric_curves"]
SECTIONS = ["Contrast: kernel minus reference deep learner", "1. Exponents",
            "Measured beta beside the finite-d theory", "2. Learning curves",
            "3. Sample complexity", "4. beta against",
            "5. Time to target", "6. Failures", "Paired comparisons", "7. Provenance"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    demo_run(run, ds=(4, 8, 16), seeds=range(3))
    return build_report(run, n_boot=200)


def test_report_files_exist_and_are_non_empty(report):
    assert report.name == "report"
    for name in ("report.md", "report.html"):
        assert (report / name).stat().st_size > 1000
    for fig in FIGURES:
        for ext in ("png", "svg"):
            assert (report / "figures" / f"{fig}.{ext}").stat().st_size > 1000, (fig, ext)
    assert (report / "figures" / "learning_curves_toy.png").read_bytes()[:4] == b"\x89PNG"
    assert list((report / "figures").glob("*.pdf")) == []  # PDF only on request


def test_report_tables_parse(report):
    tables = read_tables(report)
    assert sorted(tables) == sorted(TABLES)
    exp = tables["exponents"]
    assert len(exp) == 9 and {"beta", "beta_lo", "beta_hi", "beta_kind", "theory_beta"} <= set(exp)
    krr = exp[exp["label"] == "krr"].set_index("task_label")
    assert krr.loc["toy(p=2,r=2)", "beta"] == pytest.approx(2.0, abs=0.25)
    ver = tables["verdicts"].set_index("label")["verdict"].to_dict()
    assert ver == {"krr": "grows", "mean": "not enough evidence", "mlp": "bounded"}
    fails = tables["failures"]
    assert set(fails["status"]) == {"failed", "timeout", "skipped"}
    sc = tables["sample_complexity"]
    assert (sc.loc[sc["label"] == "mean", "bound"] == 1).all()


def test_report_markdown_and_html_content(report):
    md = (report / "report.md").read_text()
    html = (report / "report.html").read_text()
    for section in SECTIONS:
        assert section in md and section in html
    assert "![" in md and "figures/nstar_vs_d_toy.png" in md
    assert html.count("data:image/png;base64,") == len(FIGURES)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "Verdict rule" in md and "git_commit" in md
    # the report opens with the contrast, above the verdict table
    assert md.index("Contrast: kernel minus") < md.index("Verdict per learner") < md.index(
        "1. Exponents")
    assert "decisions at 95 %" in md


def test_show_summary_prints_tables_1_and_6(report):
    console = Console(record=True, width=200)
    show_summary(report.parent, console=console, n_boot=100)
    text = console.export_text()
    assert "1. Exponents" in text and "6. Failures" in text
    assert "grows" in text and "bounded" in text and "DivergenceError" in text


def test_report_of_empty_run_folder(tmp_path):
    out = build_report(tmp_path, n_boot=10)
    md = (out / "report.md").read_text()
    assert "no records" in md and "No provenance.json" in md and "No spec.json" in md
    assert (out / "report.html").stat().st_size > 0
    assert all(not t.empty or t.columns.size for t in read_tables(out).values())


def failed_records(n_rec: int = 4) -> list[Record]:
    return [Record(key=f"k{i}", task="toy", task_label="toy", task_params={}, d=8,
                   learner="mlp", label="mlp", learner_params={}, n=16 * 2**i, seed=0,
                   status="failed", family="hierarchical", reason="RuntimeError: CUDA OOM")
            for i in range(n_rec)]


def test_report_of_all_failures(tmp_path):
    write_run(tmp_path, failed_records(), {"name": "allfail"})
    out = build_report(tmp_path, n_boot=10)
    md = (out / "report.md").read_text()
    assert "no ok record" in md and "RuntimeError: CUDA OOM" in md
    assert list((out / "figures").glob("*.png")) == []
    assert len(pd.read_csv(out / "tables" / "failures.csv")) == 1


def test_report_of_a_single_d(tmp_path):
    demo_run(tmp_path, ds=(8,), seeds=range(2), indices=(2,), provenance=False)
    out = build_report(tmp_path, n_boot=10)
    md = (out / "report.md").read_text()
    assert "Fewer than two d values" in md and "No provenance.json" in md
    assert "No verdict: every task family of this run has one depth/degree value" in md
    exp = pd.read_csv(out / "tables" / "exponents.csv")
    assert (exp["beta_kind"] == "not estimable").all()
    assert exp["beta_text"].str.contains("1 usable d value").all()
    assert (out / "figures" / "nstar_vs_d_toy.png").stat().st_size > 0


def _linked_files(md: str) -> list[str]:
    return re.findall(r"\]\((figures/[^)]+)\)", md)


def test_report_figure_formats_on_request(tmp_path):
    """PNG always; SVG by default; PDF on request; report.md links exactly the files written,
    and a rebuild with fewer formats removes the files of the others."""
    demo_run(tmp_path, ds=(8,), seeds=range(2), indices=(2,), provenance=False)
    out = build_report(tmp_path, n_boot=10, formats="png,svg,pdf")
    md = (out / "report.md").read_text()
    links = _linked_files(md)
    assert {Path(p).suffix for p in links} == {".png", ".svg", ".pdf"}
    assert all((out / p).stat().st_size > 0 for p in links)
    assert (out / "figures" / "nstar_vs_d_toy.pdf").read_bytes()[:4] == b"%PDF"
    out = build_report(tmp_path, n_boot=10, formats=["png"])
    md = (out / "report.md").read_text()
    assert {Path(p).suffix for p in _linked_files(md)} == {".png"}
    assert "[SVG]" not in md and "[PDF]" not in md
    assert {p.suffix for p in (out / "figures").iterdir()} == {".png", ".json"}
    with pytest.raises(ValueError, match="gif"):
        build_report(tmp_path, n_boot=10, formats="png,gif")


def test_parse_formats():
    from reports.savefig import DEFAULT_FORMATS, parse_formats

    assert parse_formats(None) == DEFAULT_FORMATS == ("png", "svg")
    assert parse_formats("PDF, svg") == ("png", "svg", "pdf")  # PNG always, in a fixed order
    assert parse_formats(["png"]) == ("png",)


# --- style: one fixed colour per learner, families at a glance, colour-blind safe -------------

# Machado, Oliveira & Fernandes (2009) simulation matrices (severity 1) on linear sRGB
CVD = {"deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                        [-0.011820, 0.042940, 0.968881]],
       "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                      [-0.003882, -0.048116, 1.051998]],
       "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                      [0.004733, 0.691367, 0.303900]]}
FAMILY_OF = {"krr": "non-hierarchical", "ntk": "non-hierarchical", "nngp": "non-hierarchical",
             "poly_features": "non-hierarchical", "random_features": "non-hierarchical",
             "mlp": "hierarchical", "two_layer": "hierarchical", "bfc_net": "hierarchical",
             "layerwise": "layerwise", "three_layer": "layerwise", "mean": "baseline",
             "ridge": "baseline"}


def _lab(rgb, matrix=None):
    """CIELAB (D65) of an sRGB colour, optionally after a linear-RGB CVD simulation."""
    import numpy as np

    c = np.asarray(rgb, float)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    if matrix is not None:
        lin = np.clip(np.asarray(matrix) @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_learner_colours_are_fixed_and_families_read_at_a_glance():
    import colorsys
    import itertools

    import numpy as np

    from reports.style import learner_styles

    every = learner_styles([(n, f, n) for n, f in FAMILY_OF.items()])
    alone = learner_styles([("krr", "non-hierarchical", "krr"), ("mlp", "hierarchical", "mlp")])
    assert alone["krr"] == every["krr"] and alone["mlp"] == every["mlp"]  # same in every figure
    for name, fam in FAMILY_OF.items():
        h, lum, sat = colorsys.rgb_to_hls(*every[name]["color"])
        hue = 360 * h
        if fam == "non-hierarchical":
            assert hue <= 60 or hue >= 290, name  # warm
        elif fam == "baseline":
            assert sat < 0.05, name  # grey
        else:
            assert 130 <= hue <= 270, name  # cool
    markers = {fam: {every[n]["marker"] for n in FAMILY_OF if FAMILY_OF[n] == fam}
               for fam in set(FAMILY_OF.values())}
    assert all(len(m) == 1 for m in markers.values()) and len(set.union(*markers.values())) == 4
    # two labels of one learner: shades of its colour, still distinct
    two = learner_styles([("krr-rbf", "non-hierarchical", "krr"),
                          ("krr-lap", "non-hierarchical", "krr")])
    assert two["krr-rbf"]["color"] != two["krr-lap"]["color"]
    # within a family the colours stay apart (CIELAB distance >= 15) for normal vision and under
    # simulated deuteranopia, protanopia and tritanopia
    for matrix in (None, *CVD.values()):
        for a, b in itertools.combinations(FAMILY_OF, 2):
            if FAMILY_OF[a] == FAMILY_OF[b]:
                dist = np.linalg.norm(_lab(every[a]["color"], matrix)
                                      - _lab(every[b]["color"], matrix))
                assert dist >= 15, (a, b, matrix)


def test_show_is_readable_at_80_columns(report):
    console = Console(record=True, width=80)
    show_summary(report.parent, console=console, n_boot=50)
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= 80
    # whole words, not columns of fragments: verdicts, learners and reasons stay on one line
    for word in ("not enough evidence", "bounded", "grows", "DivergenceError: loss is nan",
                 "not estimable [1]", "Not estimable because: [1] censored at every point."):
        assert word in text, word
    assert "Verdict: does beta grow" in text.splitlines()[1]


def test_first_screen_order_and_footnotes(report):
    md = (report / "report.md").read_text()
    first = md[:md.index("## 1. Exponents")]
    assert first.index("**tasks**") < first.index("## Verdict") < first.index("| task family")
    # contrast table, headline figure, then the verdict per learner (the figure stays on the
    # first screen however many learners the run has)
    assert first.index("| task family") < first.index("![Does beta grow") < first.index(
        "### Verdict per learner")
    assert "not estimable (" not in md.split("## 7. Provenance")[0]  # reasons are footnotes
    assert "Not estimable because: [1] censored at every point." in first
    assert md.count("<details><summary>toy:") == 2  # exponents and n* tables, grouped by task
    assert '{"r": 2}' not in md.split("## 7. Provenance")[0]  # no JSON in titles or tables
    html = (report / "report.html").read_text()
    assert html.index('<dl class="facts">') < html.index('class="headline"') < html.index(
        "<nav>")


def test_fit_notes_and_poly_degree_labels(tmp_path):
    import numpy as np

    from reports.synthetic import Law, SynthTask, law_records, n_grid

    task = SynthTask("toy", {"p": 2}, "p", 0.3, {})
    rng = np.random.default_rng(0)
    kw = {"ds": [4, 8, 16], "seeds": [0, 1], "grid": n_grid(16, 2**10), "threshold": 0.1,
          "rng": rng}
    falkon = law_records(task, Law("falkon", "non-hierarchical", "krr", beta=1.0), **kw)
    net = law_records(task, Law("mlp", "hierarchical", "mlp", beta=1.0), **kw)
    poly = law_records(task, Law("poly", "non-hierarchical", "poly_features", beta=1.0), **kw)
    for i, r in enumerate(falkon):
        r.fit_info = {"approximate": i % 3 == 0, "approx_reason": "512 centres < n",
                      "n_centres": 512}
    for i, r in enumerate(net):
        r.fit_info = {"budget_exhausted": i % 2 == 0, "steps": 100}
    for r in poly:
        r.fit_info = {"degree": 2 if r.d < 16 else 3}
    write_run(tmp_path, falkon + net + poly, {"name": "notes"})
    out = build_report(tmp_path, n_boot=20)
    notes = pd.read_csv(out / "tables" / "fit_notes.csv").set_index("learner")
    n_ok = len(falkon)
    assert notes.loc["falkon", "approximate"] == len(range(0, n_ok, 3))
    assert notes.loc["falkon", "approximation reason (first)"] == "512 centres < n"
    assert notes.loc["mlp", "ended on budget"] == len(range(0, n_ok, 2))
    from harness.analysis import load_spec, parse_eps

    eps = parse_eps(load_spec(tmp_path).get("eps"))
    above = sum(1 for r in net if r.status == "ok" and r.fit_info["budget_exhausted"]
                and r.test_error > float(eps.threshold(r.top_share)[0]))
    assert 0 < above < len(range(0, n_ok, 2))  # the laws put fits on both sides of eps
    assert notes.loc["mlp", "on budget above eps"] == above
    assert notes.loc["poly", "degree used"] == "degree 2-3"
    md = (out / "report.md").read_text()
    assert f"approximate: falkon {len(range(0, n_ok, 3))} of {n_ok}" in md
    assert f"mlp {len(range(0, n_ok, 2))} of {n_ok} ({above})" in md
    assert "| toy(p=2) | poly (degree 2-3) |" in md  # exponent row labelled with the degree
    assert "| toy(p=2) | 16 | poly (degree 3) |" in md  # n* row at d = 16


def test_quick_like_figures_have_short_titles_and_no_overlapping_text(tmp_path):
    """Eight learners, long task parameters, four d values: the figures the quick preset gives."""
    import json

    from harness.analysis import analyse_run
    from reports.contrast import kappa_figures
    from reports.figures import learning_curve_figures, nstar_figures, verdict_figures
    from reports.savefig import TEXT_BOXES, figure_formats, overlapping_texts
    from reports.style import apply_style
    from reports.synthetic import quick_like_run

    run = quick_like_run(tmp_path)
    a = analyse_run(run, n_boot=10)
    a.exponents["theory_slope"] = a.exponents["theory_beta"] - 0.3  # the finite-d theory column
    apply_style()
    out = tmp_path / "figures"
    with figure_formats("png,svg,pdf"):
        figs = {"curves": learning_curve_figures(a, out), "nstar": nstar_figures(a, out),
                "verdict": verdict_figures(a, out), "kappa": kappa_figures(a, out)}
    assert figs["kappa"]
    boxes = json.loads((out / TEXT_BOXES).read_text())
    assert sorted(boxes) == sorted(f.name for fs in figs.values() for f in fs)
    for name, fig_boxes in boxes.items():
        assert overlapping_texts(fig_boxes) == [], name
    for name in ("learning_curves_multi_index", "kappa_multi_index"):
        texts = {b[4] for b in boxes[name]}
        assert {"p = 3, d = 6", "p = 4, d = 16"} <= texts, name  # short facet titles
        assert not any("low_share" in t and "d =" in t for t in texts), name
    assert "Learning curves: multi_index (low_share = 0.5, r = 2)" in {
        b[4] for b in boxes["learning_curves_multi_index"]}
    verdict = {b[4] for b in boxes["verdict"]}
    assert "theory at the run's d" in verdict and "multi_index (low_share = 0.5, r = 2)" in verdict
    assert not any("{" in t for t in verdict)  # no JSON in the titles
    assert all(f.pdf.read_bytes()[:4] == b"%PDF" for fs in figs.values() for f in fs)


def test_learning_curve_limits_keep_the_informative_range():
    import numpy as np

    from reports.figures import FLOOR_DECADES, curve_limits

    # polynomial features interpolate: a median of 1e-10 must not stretch the axis down to it
    values = np.array([1.0, 0.5, 0.2, 0.05, 1e-10, np.nan])
    lo, hi = curve_limits(values, np.array([0.1, 0.2]))
    assert lo == pytest.approx(0.1 / 10**FLOOR_DECADES / 1.25) and hi == pytest.approx(1.25)
    assert (values[np.isfinite(values)] < lo).sum() == 1  # the one point drawn on the edge
    # nothing below the floor: the axis ends just under the smallest value
    lo, _ = curve_limits(np.array([0.9, 0.3, 0.08]), np.array([0.1]))
    assert lo == pytest.approx(0.08 / 1.25)


def test_energy_method_per_configuration_is_stated():
    from reports.overview import energy_text

    def rows(method, se):
        return [{"task_label": "bfc(L=4)", "d": d, "seed": s, "top_share": 0.08,
                 "task_info": {"energy_method": method, "top_share_se": se}}
                for d in (8, 16) for s in (0, 1)]

    assert energy_text(pd.DataFrame(rows("exact", 0.0))) == "exact for every configuration"
    mixed = pd.DataFrame(rows("exact", 0.0)[:2] + rows("monte_carlo", 0.02)[2:])
    text = energy_text(mixed)
    assert text.startswith("exact except ") and "bfc(L=4) d = 16: monte_carlo" in text
    assert "+- 0.02" in text and "d = 8" not in text
    assert energy_text(pd.DataFrame([{"task_label": "t", "d": 4, "seed": 0, "top_share": 1.0,
                                      "task_info": {}}])) == "not reported by the tasks"


def test_test_set_size_and_its_standard_error_are_stated():
    from reports.overview import test_set_text

    fixed = pd.DataFrame([{"task_label": "mi", "d": 4, "seed": s, "n_test": 8192,
                           "task_info": {"n_test_rule": "fixed", "residual_kurtosis": k}}
                          for s, k in ((0, 330.0), (1, 410.0))])
    # sqrt(409 / 8192) = 0.223
    assert test_set_text(fixed) == ("noiseless points per teacher; mi: n_test = 8192 (fixed), "
                                    "sd of an error of size eps <= 0.22 eps")
    auto = pd.DataFrame([{"task_label": lab, "d": 4, "seed": s, "n_test": n,
                          "task_info": {"residual_kurtosis": k, "n_test_rule": "auto"}}
                         for lab, s, n, k in [("mi(p=3)", 0, 4096, 35.0),
                                              ("mi(p=3)", 1, 5120, 52.0),
                                              ("mi(p=4)", 0, 36864, 364.0),
                                              ("mi(p=4)", 1, 65536, 900.0),
                                              ("bfc", 0, 65536, None)]])
    text = test_set_text(auto)
    # sd / eps = sqrt((kappa - 1) / n_test): p = 3 max(0.0911, 0.0998); p = 4 max(0.0993, 0.117)
    assert "mi(p=3): n_test = 4096-5120 (auto), sd of an error of size eps <= 0.10 eps" in text
    assert "mi(p=4): n_test = 36864-65536 (auto), sd of an error of size eps <= 0.12 eps" in text
    assert "bfc: n_test = 65536 (auto), sd not known (no residual kurtosis)" in text




def test_cost_table_and_peak_memory_from_the_records(tmp_path):
    """Per learner: ok fits, fit seconds summed / slowest, the largest job's peak memory and
    where it was (a failed job's memory counts: a job killed at the cap has one)."""
    import numpy as np

    from harness.store import Status
    from reports.synthetic import Law, SynthTask, law_records, n_grid

    task = SynthTask("toy", {"p": 2}, "p", 0.3, {})
    kw = {"ds": [4, 8], "seeds": [0, 1], "grid": n_grid(16, 2**8), "threshold": 0.1,
          "rng": np.random.default_rng(0)}
    krr = law_records(task, Law("krr", "non-hierarchical", "krr", beta=1.0), **kw)
    net = law_records(task, Law("mlp", "hierarchical", "mlp", beta=1.0), **kw)
    for i, r in enumerate(krr):
        r.peak_mem_bytes = (i + 1) * 2**20
    krr[-1].status, krr[-1].test_error, krr[-1].fit_wall_s = Status.FAILED, None, None
    krr[-1].peak_mem_bytes = 3 * 2**30  # the largest: killed at a cap
    write_run(tmp_path, krr + net, {"name": "costs"})
    out = build_report(tmp_path, n_boot=20)
    costs = pd.read_csv(out / "tables" / "costs.csv").set_index("learner")
    ok_krr = [r for r in krr if r.status == Status.OK]
    assert costs.loc["krr", "ok fits"] == len(ok_krr)
    assert costs.loc["krr", "fit s (sum)"] == pytest.approx(
        sum(r.fit_wall_s for r in ok_krr), abs=0.05)
    assert costs.loc["krr", "slowest fit (s)"] == pytest.approx(
        max(r.fit_wall_s for r in ok_krr), abs=0.005)
    assert costs.loc["krr", "peak memory (GiB)"] == 3.0
    last = krr[-1]
    assert costs.loc["krr", "largest job"] == (f"{last.task_label}, d = {last.d}, "
                                               f"n = {last.n}, failed")
    assert np.isnan(costs.loc["mlp", "peak memory (GiB)"])  # synthetic nets record none
    assert costs.loc["mlp", "largest job"] == "not recorded"
    md = (out / "report.md").read_text()
    assert "### Cost per learner" in md
    assert (f"| krr | {len(ok_krr)} | {costs.loc['krr', 'fit s (sum)']} | "
            f"{costs.loc['krr', 'slowest fit (s)']} | 3.0 | {last.task_label}, d = {last.d}, "
            f"n = {last.n}, failed |") in md



def test_fixed_n_error_says_how_many_seeds_its_median_is_over(tmp_path):
    # learner "fast": seeds 0 and 1 pass twice and are stopped by the adaptive search, so at the
    # shared largest n (400) only seed 2 ran; "slow" ran every seed there.
    def rec(label, n, seed, err=None):
        ok = err is not None
        return Record(key=f"{label}{n}{seed}", task="toy", task_label="toy(p=2)",
                      task_params={"p": 2}, d=8, learner=label, label=label, learner_params={},
                      n=n, seed=seed, status="ok" if ok else "skipped", family="hierarchical",
                      reason=None if ok else "adaptive: eps reached at n=100 and n=200",
                      test_error=err, fit_wall_s=1e-3 * n if ok else None,
                      fit_cpu_s=1e-3 * n if ok else None, top_share=0.5, hierarchy_index=2.0,
                      task_info={"index_param": "p", "hierarchy_index": 2.0, "top_share": 0.5})

    recs = [rec("fast", n, s, 0.05) for n in (100, 200) for s in (0, 1)]
    recs += [rec("fast", 100, 2, 0.5), rec("fast", 200, 2, 0.3), rec("fast", 400, 2, 0.2)]
    recs += [rec("fast", 400, s) for s in (0, 1)]
    recs += [rec("slow", n, s, 0.4 + 0.1 * s) for n in (100, 200, 400) for s in range(3)]
    write_run(tmp_path, recs, {"name": "fixed", "eps": {"kind": "absolute", "value": 0.1}})
    md = (build_report(tmp_path, n_boot=20) / "report.md").read_text()
    rows = {line.split(" | ")[2]: line for line in md.splitlines()
            if line.startswith("| toy(p=2) | 8 |") and "] | 400" in line}  # the n* table
    assert "0.2 [0.2, 0.2] | 400 (1 of 3 seeds) | 3 |" in rows["fast"]
    assert "0.5 [0.45, 0.55] | 400 | 3 |" in rows["slow"]
    assert "'k of S seeds' where that is not all of them" in md


def test_learning_curve_points_over_few_seeds_are_marked(tmp_path):
    from harness.analysis import learning_curves, load_records

    # 4 seeds: all ok at 100; at 200 one stopped; at 400 three stopped (1 ok < 4 / 2);
    # at 800 two ok and two failed (2 ok is half: not few)
    def rec(n, seed, status="ok"):
        return Record(key=f"{n}{seed}", task="toy", task_label="toy(p=2)", task_params={"p": 2},
                      d=8, learner="a", label="a", learner_params={}, n=n, seed=seed,
                      status=status, family="hierarchical",
                      reason=None if status == "ok" else "adaptive: eps reached at n=1 and n=2",
                      test_error=0.1 if status == "ok" else None, top_share=0.5,
                      hierarchy_index=2.0, task_info={"index_param": "p", "top_share": 0.5})

    status = {100: "oooo", 200: "ooos", 400: "osss", 800: "ooff"}
    recs = [rec(n, s, {"o": "ok", "s": "skipped", "f": "failed"}[c])
            for n, cs in status.items() for s, c in enumerate(cs)]
    write_run(tmp_path, recs, {"name": "few"})
    lc = learning_curves(load_records(tmp_path)).sort_values("n")
    assert lc["few_seeds"].tolist() == [False, False, True, False]


def test_fixed_n_note_combines_own_and_seed_count():
    from reports.tables import _fixed_note

    def row(common, k, total):
        return pd.Series({"common": common, "n_fixed_ok": k, "n_seeds": total})

    assert _fixed_note(row(True, 20, 20)) == ""
    assert _fixed_note(row(False, 20, 20)) == " (own)"
    assert _fixed_note(row(True, 1, 20)) == " (1 of 20 seeds)"
    assert _fixed_note(row(False, 5, 20)) == " (own; 5 of 20 seeds)"
    assert _fixed_note(row(True, float("nan"), 20)) == ""  # no fixed-n row for the curve
