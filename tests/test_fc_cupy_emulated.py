"""The GPU code run on the CPU: tests/test_fc_cupy.py and scripts/gpu_check.sh against a CPU
stand-in for CuPy (``tests/cuda_emulator``; kernels compiled with g++, cuBLAS's gemmEx by its
definition, every raw memory access bounds-checked).

This proves the host-side logic, the kernels' arithmetic and the scripts; it says nothing of
speed, of NVRTC or of the real cuBLAS, which only ``scripts/gpu_check.sh`` on a GPU shows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EMULATOR = ROOT / "tests" / "cuda_emulator"

pytestmark = [pytest.mark.slow,
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
