#!/usr/bin/env bash
# GPU check of the fc engine's CuPy kernels, on a machine with CuPy and a GPU but not the rest of
# fcgraph's dependencies (no neo4j or typer needed: numpy, pytest, pandas and pyarrow for edge
# tables, torch for its CUDA tests).
#   1. tests/fc/test_fc_cupy.py: TF32 / INT8 / popcount counts bit for bit against NumPy, shifted
#      products, the fused shift null's edges against the NumPy backend; then
#      tests/fc/test_fc_torch_cuda.py: the torch backend on CUDA against NumPy;
#   2. benchmarks/fc.py gpu: a whole sew-small-sized condition (layers 8192 ... 1024, L = 8000,
#      100 shifts) end to end, against cuBLAS TF32 throughput measured in the same run; then the
#      same condition with the default exact null (FFT features on the CPU, products on the GPU);
#   3. scripts/gpu_dask_check.py: `fcgraph fc` on CuPy in-process and on two Dask workers sharing
#      the GPU (`--local-workers 2`), a task per layer pair and a task per post tile: every file
#      the same; with dask-cuda and two GPUs or more, the same on `--local-workers gpu` (one
#      worker per GPU). Without Dask it says "skipped: dask not installed" and passes.
# Prints every figure; results go to benchmarks/results/fc.json (section "gpu") or, with
# OUT set (the device tool's output folder), to $OUT/fc-gpu.json instead. Under six minutes.
#   scripts/gpu_check.sh            full benchmark
#   scripts/gpu_check.sh --quick    layers / 4 (for a first try)
# CI runs this script on the CPU against tests/cuda_emulator (a stand-in for CuPy) with
# `--scale 64 --bins 800`: see tests/fc/test_fc_cupy_emulated.py.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
status=0

echo "== environment"
$PY - <<'EOF' || exit 1
import numpy, cupy
print("numpy", numpy.__version__, "cupy", cupy.__version__)
props = cupy.cuda.runtime.getDeviceProperties(0)
name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
print("device", name, "compute capability", props["major"], props["minor"],
      "memory GiB", round(cupy.cuda.Device(0).mem_info[1] / 2**30, 1))
from fcgraph.fc.backend import cupy_status
usable, detail = cupy_status()  # a cuBLAS product and an NVRTC kernel, checked
assert usable is not None, f"fcgraph cannot use this GPU: {detail}"
print("fcgraph's backend auto: cupy on", detail)
EOF

echo "== CuPy tests (tests/fc/test_fc_cupy.py)"
# --noconftest: these tests use no fixture, and this machine may lack what the conftest imports
timeout 150 $PY -m pytest --noconftest -p no:cacheprovider -q -rs tests/fc/test_fc_cupy.py || status=1

echo "== torch on CUDA (tests/fc/test_fc_torch_cuda.py)"
timeout 90 $PY -m pytest --noconftest -p no:cacheprovider -q -rs tests/fc/test_fc_torch_cuda.py || status=1

echo "== GPU benchmark (benchmarks/fc.py gpu $*)"
out=benchmarks/results/fc.json
if [ -n "${OUT:-}" ]; then out="$OUT/fc-gpu.json"; fi
timeout 180 $PY benchmarks/fc.py gpu --out "$out" "$@" || status=1

echo "== Dask: two workers on one GPU (scripts/gpu_dask_check.py)"
timeout 120 $PY scripts/gpu_dask_check.py || status=1
exit $status
