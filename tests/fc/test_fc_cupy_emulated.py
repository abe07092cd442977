"""The GPU code run on the CPU: tests/test_fc_cupy.py and scripts/gpu_check.sh against a CPU
stand-in for CuPy (``tests/cuda_emulator``; kernels compiled with g++, cuBLAS's gemmEx by its
definition, every raw memory access bounds-checked).

This proves the host-side logic, the kernels' arithmetic and the scripts; it says nothing of
speed, of NVRTC or of the real cuBLAS, which only ``scripts/gpu_check.sh`` on a GPU shows.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = ROOT / "tests" / "cuda_emulator"

pytestmark = [pytest.mark.slow, pytest.mark.gxx,
              pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(PYTHONPATH=f"{EMULATOR}{os.pathsep}{ROOT}", PYTHON=sys.executable,
               OUT=str(tmp_path), TMPDIR=str(tmp_path))
    return env


def test_the_emulator_catches_what_it_claims(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pytest", "--noconftest", "-p", "no:cacheprovider",
                           "-q", str(EMULATOR / "check_emulator.py")], cwd=ROOT, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "6 passed" in done.stdout


def test_gpu_check_runs_every_cupy_test_and_the_benchmark_on_the_emulator(tmp_path):
    done = subprocess.run(["bash", "scripts/gpu_check.sh", "--scale", "64", "--bins", "800"],
                          cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-5000:]
    assert "CPU emulator" in out
    summary = next(line for line in out.splitlines() if " passed" in line)
    assert "skipped" not in summary and "failed" not in summary, summary
    result = json.loads((tmp_path / "fc-gpu.json").read_text())["gpu"]
    assert result["layers"] == [128, 128, 128, 64, 64, 32, 32, 16, 16] and result["edges"] > 0
    assert len(result["per_pair_seconds"]) == len(result["exact_per_pair_seconds"]) == 8
    assert result["exact_edges"] > 0
    dask_step = out.split("== Dask: two workers on one GPU", 1)[1]
    if importlib.util.find_spec("distributed") is None:
        assert "skipped: dask not installed" in dask_step, dask_step
    else:  # both comparisons ran on two emulated-GPU workers and found every file the same
        assert dask_step.count("--local-workers 2: 4 layer pairs") == 2, dask_step
        assert dask_step.count("every file the same") == 2, dask_step
        assert "--local-workers gpu skipped: " in dask_step, dask_step


def test_gpu_dask_step_without_dask_says_skipped(tmp_path):
    from tests.helpers.dask_cluster import env_without_dask

    env = env_without_dask(tmp_path / "site")
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(EMULATOR)])
    done = subprocess.run([sys.executable, "scripts/gpu_dask_check.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "skipped: dask not installed\n", done.stdout + done.stderr


@pytest.mark.parametrize("null_args", [["--null", "shift", "--n-shifts", "30", "--top-k", "5"],
                                       ["--null", "exact", "--calibrate"]])
def test_fc_command_on_the_emulated_gpu_writes_the_numpy_tables(tiny_recording, tmp_path,
                                                                null_args):
    """`fcgraph fc --backend cupy` end to end (compute_run, the fused shift null or the exact
    null's device products, the feature relay, calibration, resume files) equals NumPy's run."""
    import pandas as pd
    import pyarrow.parquet as pq

    from fcgraph.contract import read_manifest

    tables = {}
    for backend in ("numpy", "cupy"):
        rec = tmp_path / backend
        shutil.copytree(tiny_recording, rec)
        done = subprocess.run([sys.executable, "-m", "fcgraph", "fc", str(rec), "--backend", backend,
                               "--no-progress", "--tile", "48", *null_args], cwd=ROOT,
                              env=_env(tmp_path), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        first = done.stdout.splitlines()[0]
        assert first == ("backend: numpy" if backend == "numpy" else
                         "backend: cupy (GPU 0: CPU emulator (not a GPU))"), first
        manifest = read_manifest(rec)
        tables[backend] = pd.concat([pq.read_table(path).to_pandas()
                                     for path in manifest.edge_files(rec).values()])
        pairs = [p for ps in manifest.fc["layer_pairs"].values() for p in ps]
        assert {p["backend"] for p in pairs} == {backend}
        tables[backend + " pairs"] = pd.DataFrame(pairs)
    want, got = tables["numpy"], tables["cupy"]
    assert len(got) == len(want) > 50
    for col in ("condition", "pre_layer", "post_layer", "pre_idx", "post_idx", "cofire"):
        assert np.array_equal(got[col].to_numpy(), want[col].to_numpy()), col
    for col in ("value", "null_mean", "null_sd", "z"):
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-12)
    counts = ["tested", "untested", "zero_spread", "nonfinite", "negative_tail", "significant",
              "edges"]
    assert tables["cupy pairs"][counts].equals(tables["numpy pairs"][counts])
    if "--calibrate" in null_args:
        calibration = [pd.DataFrame(tables[b + " pairs"]["calibration"].tolist())
                       for b in ("numpy", "cupy")]
        assert calibration[0]["tested"].sum() > 0
        pd.testing.assert_frame_equal(calibration[1], calibration[0])
