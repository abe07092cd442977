"""Array backends for the matrix products: NumPy float32 BLAS, torch (CPU or CUDA), CuPy.

Every product in :mod:`fcgraph.fc` multiplies 0/1 matrices (or integer-valued autocorrelation
features), so one small interface covers all devices: move a host array over with a dtype,
multiply ``a @ b.T``, slice columns, add, compare, and bring results back. torch and CuPy are
imported only when asked for.

Names accepted by :func:`get_backend`:

- ``"numpy"``: float32 BLAS on the host (the reference path).
- ``"torch"`` (CUDA when available, else CPU), ``"torch:cpu"``, ``"torch:cuda"``,
  ``"torch:cuda:1"``: ``torch.matmul`` on float32 tensors. 0/1 inputs are exact under TF32 too
  and accumulation is float32, so the global TF32 setting does not change any count.
- ``"cupy"``: the NumPy code path run with ``cupy`` as the array module, and the fused kernels
  of :mod:`fcgraph.fc.cupy_kernels` where a path has them.
- ``"auto"``: CuPy when it imports, sees a GPU and passes a small cuBLAS and NVRTC test
  (:func:`fcgraph.fc.gpu.cupy_status`), else NumPy.
"""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Any

import numpy as np

from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.fc.gpu import STAGING_SHARE, cupy_if_available, cupy_status, free_device_bytes

__all__ = ["STAGING_SHARE", "Backend", "CupyBackend", "TorchBackend", "cupy_if_available",
           "cupy_status", "get_backend"]


class Backend:
    """Host NumPy (or a NumPy-compatible module such as CuPy) as the array module."""

    def __init__(self, xp: ModuleType = np, name: str = "numpy", detail: str = "") -> None:
        self.xp = xp
        self.name = name
        #: what the backend runs on, or why ``auto`` chose NumPy: one line for people
        self.detail = detail

    def describe(self) -> str:
        """``name`` and, when known, the device or the reason it was chosen (one line)."""
        return f"{self.name} ({self.detail})" if self.detail else self.name

    def asarray(self, x: np.ndarray, dtype: str) -> Any:
        """Host array ``x`` on the device as ``dtype`` ("float32", "float64", "int64", ...)."""
        if self.xp is np:
            return np.asarray(x).astype(dtype, copy=False)
        return self.xp.asarray(np.asarray(x)).astype(dtype, copy=False)

    def zeros(self, shape: tuple[int, ...], dtype: str) -> Any:
        return self.xp.zeros(shape, dtype=dtype)

    def astype(self, x: Any, dtype: str) -> Any:
        return x.astype(dtype, copy=False)

    def matmul_nt(self, a: Any, b: Any) -> Any:
        """``a @ b.T`` for a (m, k) and b (n, k): (m, n)."""
        return a @ b.T

    #: whether :meth:`matmul_nt_float32` is plain IEEE float32 arithmetic (no TF32)
    exact_float32 = True

    def matmul_nt_float32(self, a: Any, b: Any) -> Any:
        """``a @ b.T`` of float32 device arrays in IEEE float32 (exact while every partial sum
        is an integer below 2**24); only where :attr:`exact_float32` is True."""
        return a @ b.T

    def staging_bytes(self) -> int | None:
        """Bytes one float32 train matrix may take on the device before it is staged a time
        chunk at a time; None: no limit (host memory)."""
        return None

    def fused_shift_null(self, pre: np.ndarray, shifts: np.ndarray, **options: Any) -> Any:
        """A device engine that computes a layer pair's shift null a post tile at a time (the
        interface of :class:`fcgraph.fc.cupy_kernels.ShiftNullEngine`), or None where this
        backend has none and the generic products run."""
        return None

    def to_numpy(self, x: Any) -> np.ndarray:
        if self.xp is np:
            return np.asarray(x)
        return self.xp.asnumpy(x)

    def __repr__(self) -> str:
        return f"<fcgraph.fc backend {self.name}>"


class CupyBackend(Backend):
    """CuPy as the array module; float32 products that must be exact go through cuBLAS with
    CUBLAS_COMPUTE_32F_PEDANTIC, so no TF32 setting (``CUPY_TF32``) can round them."""

    def __init__(self, cupy: ModuleType, detail: str = "") -> None:
        super().__init__(cupy, "cupy", detail)

    def matmul_nt_float32(self, a: Any, b: Any) -> Any:
        import fcgraph.fc.cupy_kernels as ck

        xp = self.xp
        a, b = xp.ascontiguousarray(a), xp.ascontiguousarray(b)
        out = xp.empty((a.shape[0], b.shape[0]), dtype=xp.float32)
        k, step = a.shape[1], ck.F32_EXACT_BINS - 1  # gemm_nt takes fewer than 2**24 columns
        for k0 in range(0, max(k, 1), step):  # exactness is the caller's (a norm bound)
            ck.gemm_nt(out, a, k0, b, k0, min(step, k - k0), beta=0.0 if k0 == 0 else 1.0,
                       compute=ck.CUBLAS_COMPUTE_32F_PEDANTIC)
        return out

    def fused_shift_null(self, pre: np.ndarray, shifts: np.ndarray, **options: Any) -> Any:
        """The fused CuPy kernels of the shift null (L < 2**24 bins; else None)."""
        from fcgraph.fc.cupy_kernels import F32_EXACT_BINS, ShiftNullEngine

        if pre.shape[1] >= F32_EXACT_BINS:
            return None
        return ShiftNullEngine(pre, shifts, **options)

    def staging_bytes(self) -> int | None:
        """A quarter of the device memory free now (CuPy's pool's free blocks included)."""
        return int(STAGING_SHARE * free_device_bytes())


class TorchBackend(Backend):
    """``torch.matmul`` on a chosen device (its float32 products may use TF32 on CUDA)."""

    exact_float32 = False

    def __init__(self, device: str | None = None) -> None:
        import torch

        self.torch = torch
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise FcgraphError("backend torch:cuda asked for, but torch sees no CUDA device")
        self.device = torch.device(device)
        detail = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else ""
        super().__init__(np, f"torch:{self.device}", detail)

    def _dtype(self, dtype: str) -> Any:
        return getattr(self.torch, dtype)

    def asarray(self, x: np.ndarray, dtype: str) -> Any:
        t = self.torch.from_numpy(np.ascontiguousarray(x))
        return t.to(device=self.device, dtype=self._dtype(dtype))

    def zeros(self, shape: tuple[int, ...], dtype: str) -> Any:
        return self.torch.zeros(shape, dtype=self._dtype(dtype), device=self.device)

    def astype(self, x: Any, dtype: str) -> Any:
        return x.to(self._dtype(dtype))

    def matmul_nt(self, a: Any, b: Any) -> Any:
        return self.torch.matmul(a, b.T)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()

    def staging_bytes(self) -> int | None:
        if self.device.type != "cuda":
            return None
        cuda = self.torch.cuda
        free = cuda.mem_get_info(self.device)[0]
        return int(STAGING_SHARE * (free + cuda.memory_reserved(self.device)
                                    - cuda.memory_allocated(self.device)))


def get_backend(backend: str | Backend = "numpy", *, warn: bool = True) -> Backend:
    """The :class:`Backend` called ``backend`` (see the module docstring for the names).

    ``auto`` falls back to NumPy when CuPy finds no usable GPU (:func:`cupy_status`; the
    reason is in the backend's ``detail``); when CuPy sees a GPU but cannot use it, it also
    issues a :class:`RuntimeWarning` unless ``warn`` is False (the CLI prints the reason).
    """
    if isinstance(backend, Backend):
        return backend
    if backend == "numpy":
        return Backend()
    if backend in ("auto", "cupy"):
        cupy, detail = cupy_status()
        if cupy is not None:
            return CupyBackend(cupy, detail)
        if backend == "cupy":
            raise FcgraphError(f"backend cupy asked for, but {detail}")
        if warn and "sees a GPU" in detail:
            warnings.warn(f"{detail}; using NumPy", RuntimeWarning, stacklevel=2)
        return Backend(np, "numpy", detail)
    if backend == "torch" or backend.startswith("torch:"):
        try:
            return TorchBackend(backend.partition(":")[2] or None)
        except ImportError:
            raise FcgraphError("backend torch asked for, but torch is not installed") from None
        except RuntimeError as exc:  # torch.device of an unknown device name
            raise BadArgument("--backend", f"{backend!r}: {str(exc).splitlines()[0]}") from None
    raise BadArgument("--backend", f"unknown backend {backend!r} (numpy, torch, torch:cpu, torch:cuda, "
                                   "cupy, auto)")
