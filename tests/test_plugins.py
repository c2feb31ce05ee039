"""Plugins: the example learner and task through --plugin, through an entry point, and any
scikit-learn regressor by import path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT, write_spec

from harness import results_frame

EXAMPLES = ROOT / "examples"

SPEC = """
name = "plugins"
seeds = [0, 1]
n_test = 300
[n_grid]
n_min = 64
n_max = 256
ratio = 2.0
[[tasks]]
name = "{task}"
d = [4, 8]
params = {{ k = 2 }}
[[learners]]
name = "{learner}"
[[learners]]
name = "sklearn.linear_model:Ridge"
label = "sk-ridge"
params = {{ alpha = 0.1 }}
"""


def _cli(*args, env=None):
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def _check_run(run_dir):
    df = results_frame(run_dir)
    assert len(df) == 2 * 2 * 3 * 2 and (df.status == "ok").all()
    knn = df[df.label != "sk-ridge"]
    assert set(knn.family) == {"non-hierarchical"}
    assert all(isinstance(info["k"], int) for info in knn.fit_info)
    assert set(df[df.label == "sk-ridge"].family) == {"baseline"}
    # a degree-2 product is invisible to a linear model: its error stays near 1
    assert df[df.label == "sk-ridge"].test_error.min() > 0.8
    return df


def test_example_plugins_through_the_cli(tmp_path):
    spec = write_spec(tmp_path / "s.toml", SPEC.format(task="sparse_product", learner="knn"))
    _cli("run", str(spec), "--out", str(tmp_path / "run"), "--no-report", "--no-progress",
         "--plugin", str(EXAMPLES / "my_learner.py"), "--plugin", str(EXAMPLES / "my_task.py"))
    _check_run(tmp_path / "run")


def test_example_plugins_through_entry_points(tmp_path):
    site = tmp_path / "site"
    dist = site / "my_plugins-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[hierbench.learners]\nknn_ep = my_learner:KNNLearner\n\n"
        "[hierbench.tasks]\nsparse_product_ep = my_task:SparseProductTask\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(EXAMPLES)]))
    listed = json.loads(_cli("list", "--json", env=env).stdout)
    assert "knn_ep" in listed["learners"] and "sparse_product_ep" in listed["tasks"]
    spec = write_spec(tmp_path / "s.toml",
                      SPEC.format(task="sparse_product_ep", learner="knn_ep"))
    _cli("run", str(spec), "--out", str(tmp_path / "run"), "--no-report", "--no-progress",
         env=env)
    _check_run(tmp_path / "run")
