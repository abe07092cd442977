"""The CuPy kernels' CUDA C++ compiles with NVIDIA's runtime compiler (NVRTC, from the
``nvidia-cuda-nvrtc`` wheel; no GPU needed), as CuPy will compile it on a GPU machine, for the
lab's T4 (sm_75) and for Hopper (sm_90): no error and no warning. And ``--fmad=false`` does
what the fused kernel relies on to equal NumPy: every double-precision multiply, add and
subtract carries an explicit rounding mode (``.rn``), which forbids their contraction into FMAs.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
from pathlib import Path

import pytest

from fcgraph.fc import cupy_kernels as ck
from fcgraph.fc import gpu


def _libnvrtc() -> ctypes.CDLL:
    spec = importlib.util.find_spec("nvidia")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    found = sorted(p for root in roots for p in root.glob("**/lib/libnvrtc.so*")
                   if "builtins" not in p.name)
    if not found:
        pytest.skip("NVRTC is not installed (pip install nvidia-cuda-nvrtc)")
    return ctypes.CDLL(str(found[-1]))


def compile_ptx(source: str, name: str, options: list[str]) -> tuple[int, str, str]:
    """(NVRTC status, compiler log, PTX) of ``source``."""
    lib = _libnvrtc()
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), f"{name}.cu".encode(), 0,
                                  None, None) == 0
    try:
        opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
        status = lib.nvrtcCompileProgram(prog, len(options), opts)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        ptx = b""
        if status == 0:
            lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
            buf = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetPTX(prog, buf)
            ptx = buf.value
        return status, log.value.decode(errors="replace").strip(), ptx.decode()
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


KERNELS = [(ck._POPCOUNT_SRC, "fcgraph_popcount_counts", ()),
           (ck._ACCUMULATE_SRC, "fcgraph_shift_accumulate", ()),
           (ck._ROLL_SRC, "fcgraph_roll_words", ()),
           (gpu._PROBE_KERNEL, "fcgraph_probe", ()),
           (ck._FINAL_SRC, "fcgraph_shift_final", ("--fmad=false",))]


@pytest.mark.parametrize("arch", ["compute_75", "compute_90"])
@pytest.mark.parametrize(("source", "name", "options"), KERNELS, ids=[k[1] for k in KERNELS])
def test_kernels_compile_with_nvrtc_cleanly(source, name, options, arch):
    # the options CuPy passes (cupy/cuda/compiler.py) and the kernel's own
    status, log, ptx = compile_ptx(source, name, [f"--gpu-architecture={arch}", "-ftz=true",
                                                  *options])
    assert status == 0 and log == "", log
    assert f".entry {name}(" in ptx


def test_fmad_false_keeps_double_arithmetic_uncontracted():
    ops = re.compile(r"\b(fma|mad|mul|add|sub)(\.\w+)*\.f64\b")
    for options, contractible in ((["--fmad=false"], False), (["--fmad=true"], True)):
        _, _, ptx = compile_ptx(ck._FINAL_SRC, "fcgraph_shift_final",
                                ["--gpu-architecture=compute_90", *options])
        found = [m.group(0) for m in ops.finditer(ptx)]
        assert any(op.startswith("mul") for op in found)
        free = [op for op in found if op.startswith(("fma", "mad")) or ".rn" not in op]
        assert bool(free) == contractible, (options, sorted(set(found)))
