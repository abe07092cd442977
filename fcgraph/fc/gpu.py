"""GPU discovery, a leaf module: does CuPy import, see a GPU and compute correctly on it?

Imported by the backends (:mod:`fcgraph.fc.backend`) and the fused kernels
(:mod:`fcgraph.fc.cupy_kernels`); imports nothing of fcgraph's but its errors, and CuPy only
inside the functions.
"""

from __future__ import annotations

import functools
from types import ModuleType

#: Share of a GPU's free memory that one staged float32 train matrix may take (beyond it: time
#: chunks, or packed trains in the fused shift null).
STAGING_SHARE = 0.25

_PROBE_KERNEL = r"""
extern "C" __global__ void fcgraph_probe(int* out) { out[threadIdx.x] = 7 * (int)threadIdx.x; }
"""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@functools.cache
def cupy_status() -> tuple[ModuleType | None, str]:
    """``(cupy, "GPU name")`` when CuPy imports, sees a GPU and can use it, else ``(None, why)``.

    "Can use it" means a small float32 product (cuBLAS) and a kernel compiled at run time
    (NVRTC) both give the right numbers: a CUDA install missing either library fails here
    rather than at the first layer pair. Probed once per process; never raises.
    """
    try:
        import cupy
    except ImportError:
        return None, "CuPy is not installed"
    except OSError as exc:
        return None, f"CuPy does not load ({_first_line(exc)})"
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            return None, "CuPy sees no GPU"
    except Exception as exc:  # no driver, an old driver, no device: CuPy raises its own errors
        return None, f"CuPy sees no GPU ({_first_line(exc)})"
    try:
        index = cupy.cuda.Device().id
        name = cupy.cuda.runtime.getDeviceProperties(index)["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        ones = cupy.ones((3, 5), dtype=cupy.float32)
        product_ok = cupy.asnumpy(ones @ ones.T).tolist() == [[5.0] * 3] * 3
        out = cupy.zeros(4, dtype=cupy.int32)
        cupy.RawKernel(_PROBE_KERNEL, "fcgraph_probe")((1,), (4,), (out,))
        kernel_ok = cupy.asnumpy(out).tolist() == [0, 7, 14, 21]
    except Exception as exc:  # a broken CUDA install can fail in many ways
        return None, f"CuPy sees a GPU but cannot use it ({_first_line(exc)})"
    if not (product_ok and kernel_ok):
        return None, "CuPy sees a GPU but its test product or kernel gave wrong numbers"
    return cupy, f"GPU {index}: {name}"


def cupy_if_available() -> ModuleType | None:
    """The ``cupy`` module when :func:`cupy_status` finds a usable GPU, else None."""
    return cupy_status()[0]


def free_device_bytes() -> int:
    """Bytes the current device could allocate now: free memory plus the free blocks CuPy's
    memory pool holds (raises :class:`~fcgraph.errors.FcgraphError` without a usable GPU)."""
    from fcgraph.errors import FcgraphError

    cp = cupy_if_available()
    if cp is None:
        raise FcgraphError("CuPy is not installed or sees no GPU")
    return int(cp.cuda.Device().mem_info[0]) + int(cp.get_default_memory_pool().free_bytes())
