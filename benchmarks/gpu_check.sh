#!/usr/bin/env bash
# The GPU check of the suite's CUDA paths, prepared on the CPU: run it on a machine with one CUDA
# GPU (about 10 minutes).  It (1) runs the device-selection tests on device=cuda, (2) times the
# nets on the GPU beside the matrix-product rate measured in the same run (float32; bfloat16 where
# bench_mlp supports it) and on the CPU, (3) runs one task family of the `full` preset end to end
# and prints its wall time.  Kernel learners have no CUDA path (LAPACK on the CPU); their CPU
# figures are in docs/learners-kernels.md.  Output goes to ${OUT:-gpu-check}/; copy the figures
# into docs/gpu.md with the date and the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-check}"
mkdir -p "$out"
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; \
print(torch.__version__, torch.cuda.get_device_name(0))" | tee "$out/device.txt"
git rev-parse HEAD > "$out/commit.txt" 2>/dev/null || true
# 1. device selection on cuda
HIERBENCH_TEST_DEVICE=cuda python -m pytest -q tests/test_torch_training.py \
    -k "device" 2>&1 | tee "$out/tests.txt"
# 2. nets: samples/s and fraction of the matrix-product rate (cpu and cuda in one run)
timeout 240 python benchmarks/bench_mlp.py --dtypes float32 --widths 256 1024 --steps 200 \
    2>&1 | tee "$out/bench_mlp.txt"
timeout 120 python benchmarks/bench_mlp.py --fit 4096 24 2>&1 | tee "$out/fit_cost.txt"
# 3. one task family of `full` end to end (its first [[tasks]] entry), wall time printed
timeout 420 python - "$out" <<'PY' 2>&1 | tee "$out/full_one_family.txt"
import sys, time, tomllib
from importlib import resources
from harness.run import RunOptions, run_spec
from harness.experiment import parse_spec
out = sys.argv[1]
data = tomllib.loads(resources.files("harness.experiment").joinpath("presets/full.toml").read_text())
data["tasks"] = data["tasks"][:1]
data["name"] = "full-one-family"
spec = parse_spec(data, "full (first task family)")
t0 = time.perf_counter()
summary = run_spec(spec, f"{out}/full-one-family", RunOptions(workers=4, progress=False))
print(f"full, first task family: {summary} in {time.perf_counter() - t0:.1f} s wall")
PY
