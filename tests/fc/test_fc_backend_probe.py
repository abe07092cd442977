"""``auto`` takes CuPy only when its GPU is usable: the probe of fcgraph.fc.backend.cupy_status.

A CUDA install can see a GPU and still lack cuBLAS or NVRTC, or a driver can be too old; each
must make ``auto`` fall back to NumPy with the reason (and a warning when a GPU is seen), and an
explicit ``cupy`` a one-line error. Broken installs are simulated by breaking one function of the
CPU stand-in for CuPy (tests/cuda_emulator) in a subprocess, never in this process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fcgraph.fc import get_backend
from fcgraph.fc.backend import cupy_status

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = ROOT / "tests" / "cuda_emulator"

# each case: how CuPy is broken (Python run after `import cupy`), or nothing
CASES = {
    "healthy": "",
    "no_nvrtc": "def broken(*a, **k):\n"
                "    raise RuntimeError('cannot load libnvrtc.so.13: no such file\\nmore')\n"
                "cupy.RawKernel = broken",
    "no_cublas": "def broken(self, other):\n"
                 "    raise OSError('libcublas.so.13: cannot open shared object file')\n"
                 "cupy.ndarray.__matmul__ = broken",
    "wrong_numbers": "cupy.ndarray.__matmul__ = lambda self, other: cupy.zeros((3, 3), 'float32')",
    "old_driver": "def broken():\n"
                  "    raise cupy.cuda.runtime.CUDARuntimeError('cudaErrorInsufficientDriver: CUDA "
                  "driver version is insufficient for CUDA runtime version')\n"
                  "cupy.cuda.runtime.getDeviceCount = broken",
}

SCRIPT = """
import json, sys, warnings
import cupy
exec(sys.argv[1])
from fcgraph.errors import FcgraphError
from fcgraph.fc.backend import cupy_status, get_backend
module, detail = cupy_status()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    auto = get_backend("auto")
    quiet = get_backend("auto", warn=False)
try:
    explicit = get_backend("cupy").name
except FcgraphError as exc:
    explicit = "error: " + str(exc)
print(json.dumps({"usable": module is not None, "detail": detail, "auto": auto.name,
                  "describe": auto.describe(), "quiet": quiet.name, "explicit": explicit,
                  "warnings": [str(w.message) for w in caught if w.category is RuntimeWarning]}))
"""


def _probe(case: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = f"{EMULATOR}{os.pathsep}{ROOT}"
    done = subprocess.run([sys.executable, "-c", SCRIPT, CASES[case]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.gxx
@pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")
def test_a_usable_gpu_is_chosen_and_named():
    got = _probe("healthy")
    assert got["usable"] and got["auto"] == got["quiet"] == got["explicit"] == "cupy"
    assert got["describe"] == "cupy (GPU 0: CPU emulator (not a GPU))"
    assert got["warnings"] == []


@pytest.mark.parametrize("case, reason", [
    ("no_nvrtc", "CuPy sees a GPU but cannot use it (RuntimeError: cannot load libnvrtc.so.13: "
                 "no such file)"),
    ("no_cublas", "CuPy sees a GPU but cannot use it (OSError: libcublas.so.13: cannot open "
                  "shared object file)"),
    ("wrong_numbers", "CuPy sees a GPU but its test product or kernel gave wrong numbers"),
])
def test_a_gpu_that_cannot_be_used_falls_back_with_a_warning(case, reason):
    got = _probe(case)
    assert not got["usable"] and got["detail"] == reason
    assert got["auto"] == got["quiet"] == "numpy" and got["describe"] == f"numpy ({reason})"
    assert got["warnings"] == [f"{reason}; using NumPy"]  # once: warn=False stays quiet
    assert got["explicit"] == f"error: backend cupy asked for, but {reason}"


def test_no_gpu_falls_back_quietly():
    got = _probe("old_driver")
    reason = ("CuPy sees no GPU (CUDARuntimeError: cudaErrorInsufficientDriver: CUDA driver "
              "version is insufficient for CUDA runtime version)")
    assert got["detail"] == reason and got["auto"] == "numpy" and got["warnings"] == []
    assert got["explicit"] == f"error: backend cupy asked for, but {reason}"


def test_this_process_names_its_choice():
    module, detail = cupy_status()
    auto = get_backend("auto")
    if module is None:  # CI: no CuPy (or no GPU), so the reason is given
        assert auto.name == "numpy" and detail.startswith("CuPy ") and auto.detail == detail
    else:
        assert auto.name == "cupy" and detail.startswith("GPU ")
    assert get_backend("numpy").describe() == "numpy"
