"""The report built from a synthetic results.sqlite (Record schema): files, tables, edge cases."""

from __future__ import annotations

import pandas as pd
import pytest
from rich.console import Console

from harness.record import Record
from reports import build_report, read_tables, show_summary
from reports.synthetic import demo_run, write_run

FIGURES = ["learning_curves_toy", "nstar_vs_d_toy", "time_vs_d_toy", "beta_vs_index_toy_r_2",
           "nstar_theory_toy", "kappa_toy"]
TABLES = ["exponents", "exponent_table", "verdicts", "sample_complexity", "learning_curves",
          "failures", "paired_errors", "paired_beta", "contrast", "contrast_table", "kappa",
          "kappa_thresholds", "theory"]
SECTIONS = ["Headline", "1. Exponents", "Measured beta beside the finite-d theory",
            "2. Learning curves", "3. Sample complexity", "4. beta against",
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
    assert md.index("Headline") < md.index("1. Exponents")  # the report opens with the contrast
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
    exp = pd.read_csv(out / "tables" / "exponents.csv")
    assert (exp["beta_kind"] == "not estimable").all()
    assert exp["beta_text"].str.contains("1 usable d value").all()
    assert (out / "figures" / "nstar_vs_d_toy.png").stat().st_size > 0
