"""hierbench compare on two synthetic runs with known laws: a kernel whose beta grows with p in
run A and stays at 1.5 in run B, a deep net identical in both, a baseline only in B."""

from __future__ import annotations

import pytest
from conftest import hierbench
from rich.console import Console

from reports.compare import compare_runs, comparison_markdown, print_comparison
from reports.synthetic import Law, SynthTask, n_grid, synthetic_run

TASKS = [SynthTask("toy", {"p": p, "r": 2}, "p", 0.3,
                   {"non-hierarchical": float(p), "hierarchical": 1.5}) for p in (2, 3)]


def _laws(kernel_beta, with_mean: bool) -> list[Law]:
    laws = [Law("krr", "non-hierarchical", "krr", coef=2.0, beta=kernel_beta),
            Law("mlp", "hierarchical", "mlp", coef=8.0, beta=1.5)]
    if with_mean:
        laws.append(Law("mean", "baseline", "mean", coef=1e12, beta=0.0, noise=0.0))
    return laws


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    kw = {"ds": [4, 8, 16], "seeds": [0, 1, 2], "grid": n_grid(16, 2**13)}
    a = synthetic_run(root / "A", TASKS, _laws(lambda p: p, False), seed=1, **kw)
    b = synthetic_run(root / "B", TASKS, _laws(1.5, True), seed=2, **kw)
    return a, b


def test_differences_are_marked_where_the_laws_differ(runs):
    c = compare_runs(*runs, n_boot=100)
    ver = c.verdicts.set_index("learner")
    # B's kernel has the same beta at p = 2 and 3: slope 0, bounded under the symmetric rule
    assert ver.loc["krr", ["verdict A", "verdict B"]].tolist() == ["grows", "bounded"]
    assert ver.loc["krr", "difference"] == "verdict grows -> bounded"
    assert ver.loc["mlp", "difference"] == "" and ver.loc["mlp", "verdict B"] == "bounded"
    assert ver.loc["mean", "difference"] == "only in B"
    exp = c.exponents.set_index(["task", "learner"])
    krr = exp.loc[("toy(p=3,r=2)", "krr")]
    # kernel: beta ~ 3 (a bound: the grid censors at d = 16) in A, ~ 1.5 in B
    assert float(krr["delta beta"]) == pytest.approx(-1.5, abs=0.3)
    assert krr["difference"].startswith("verdict")
    mlp = exp.loc[("toy(p=2,r=2)", "mlp")]
    assert mlp["difference"] == "" and abs(float(mlp["delta beta"])) < 0.2
    assert (exp.xs("mean", level="learner")["difference"] == "only in B").all()
    assert c.n_differences == 1 + 1 + 2 + 2  # krr and mean verdicts; 2 krr and 2 mean rows


def test_comparison_in_the_terminal_and_as_markdown(runs):
    c = compare_runs(*runs, n_boot=100)
    for width in (80, 200):
        console = Console(record=True, width=width)
        print_comparison(c, console)
        text = console.export_text()
        assert max(map(len, text.splitlines())) <= width
        assert "verdict grows -> bounded" in text and "only in B" in text
        assert "6 differences marked" in text
    md = comparison_markdown(c)
    assert md.count("| krr |") == 3 and "**verdict grows -> bounded**" in md
    assert "**only in B**" in md and "****" not in md
    mlp_rows = [line for line in md.splitlines() if "| mlp |" in line]
    assert mlp_rows and not any("**" in line for line in mlp_rows)  # unchanged rows stay plain


def test_compare_command_writes_markdown(runs, tmp_path):
    out = tmp_path / "cmp.md"
    proc = hierbench("compare", str(runs[0]), str(runs[1]), "--markdown", str(out),
                     "--n-boot", "50")
    assert "Verdicts: A vs B" in proc.stdout and out.read_text().startswith("# hierbench compare")
    bad = hierbench("compare", str(runs[0]), str(tmp_path / "nope"), check=False)
    assert bad.returncode == 2 and "not a run folder" in bad.stderr
