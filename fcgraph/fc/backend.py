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
- ``"cupy"``: the NumPy code path run with ``cupy`` as the array module (not yet verified on a
  GPU; fused kernels belong in :mod:`fcgraph.fc.cupy_kernels`).
- ``"auto"``: CuPy when it imports and sees a GPU, else NumPy.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from fcgraph.errors import FcgraphError


class Backend:
    """Host NumPy (or a NumPy-compatible module such as CuPy) as the array module."""

    def __init__(self, xp: ModuleType = np, name: str = "numpy") -> None:
        self.xp = xp
        self.name = name

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

    def to_numpy(self, x: Any) -> np.ndarray:
        if self.xp is np:
            return np.asarray(x)
        return self.xp.asnumpy(x)

    def __repr__(self) -> str:
        return f"<fcgraph.fc backend {self.name}>"


class TorchBackend(Backend):
    """``torch.matmul`` on a chosen device."""

    def __init__(self, device: str | None = None) -> None:
        import torch

        self.torch = torch
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise FcgraphError("backend torch:cuda asked for, but torch sees no CUDA device")
        self.device = torch.device(device)
        super().__init__(np, f"torch:{self.device}")

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


def cupy_if_available() -> ModuleType | None:
    """The ``cupy`` module when it imports and sees a GPU, else None (never raises)."""
    try:
        import cupy
    except (ImportError, OSError):
        return None
    try:
        return cupy if cupy.is_available() else None
    except Exception:  # a broken CUDA install can fail in many ways
        return None


def get_backend(backend: str | Backend = "numpy") -> Backend:
    """The :class:`Backend` called ``backend`` (see the module docstring for the names)."""
    if isinstance(backend, Backend):
        return backend
    if backend == "numpy":
        return Backend()
    if backend == "auto":
        cupy = cupy_if_available()
        return Backend(cupy, "cupy") if cupy is not None else Backend()
    if backend == "cupy":
        cupy = cupy_if_available()
        if cupy is None:
            raise FcgraphError("backend cupy asked for, but CuPy is not installed or sees no GPU")
        return Backend(cupy, "cupy")
    if backend == "torch" or backend.startswith("torch:"):
        try:
            return TorchBackend(backend.partition(":")[2] or None)
        except ImportError:
            raise FcgraphError("backend torch asked for, but torch is not installed") from None
    raise FcgraphError(f"unknown backend {backend!r} (numpy, torch, torch:cpu, torch:cuda, cupy, "
                       "auto)")
