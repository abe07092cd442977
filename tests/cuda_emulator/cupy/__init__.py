"""A CPU stand-in for the small part of CuPy that fcgraph uses, to test its GPU code without a GPU.

Not CuPy: device arrays are NumPy arrays in host memory behind a wrapper that behaves like a
CuPy array where it matters for finding bugs -- it refuses implicit conversion to NumPy and
arithmetic with host arrays (CuPy raises TypeError there), exposes ``data.ptr`` for raw calls,
and every allocation is registered so that raw memory accesses can be bounds-checked.
``cuda.cublas.gemmEx`` follows the cuBLAS column-major definition and checks its leading
dimensions and extents; :class:`RawKernel` compiles the CUDA C++
source with g++ (see :mod:`cupy._kernels`), with bounds-checked pointer arguments.

Used only by ``tests/test_fc_cupy_emulated.py``, which puts this folder first on PYTHONPATH
of a subprocess. Passing here proves the host-side logic and the kernels' arithmetic; speed,
NVRTC compilation and the real cuBLAS remain for ``scripts/gpu_check.sh`` on a GPU.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as _np

__version__ = "0.0+cpu-emulator"

float32, float64, int8, int32, int64 = _np.float32, _np.float64, _np.int8, _np.int32, _np.int64
uint8, uint64, bool_ = _np.uint8, _np.uint64, _np.bool_

# every live allocation: id(root) -> (weakref, first byte, one past the last byte)
_allocations: dict[int, tuple[Any, int, int]] = {}


def _register(root: _np.ndarray) -> None:
    start = root.__array_interface__["data"][0]
    key = id(root)
    _allocations[key] = (weakref.ref(root, lambda _ref, k=key: _allocations.pop(k, None)),
                         start, start + root.nbytes)


def check_extent(lo: int, hi: int, what: str) -> None:
    """Raise unless bytes lo .. hi-1 lie inside one live device allocation."""
    for ref, start, end in list(_allocations.values()):
        if ref() is not None and start <= lo and hi <= end:
            return
    raise RuntimeError(f"{what}: bytes [{lo:#x}, {hi:#x}) lie outside every device allocation")


class _MemoryPointer:
    def __init__(self, ptr: int) -> None:
        self.ptr = ptr


def _host(x: Any, where: str) -> Any:
    """Operand of a device operation: device arrays unwrapped, host arrays refused."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _np.ndarray) and x.ndim > 0:
        raise TypeError(f"Unsupported type {type(x)} in {where} (a host array mixed with device "
                        "arrays)")
    if isinstance(x, (list, tuple)):
        return type(x)(_host(v, where) for v in x)
    return x


def _wrap(x: Any) -> Any:
    if isinstance(x, _np.ndarray):
        return ndarray(x)
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


class ndarray:
    """A device array: NumPy storage; no implicit host conversion."""

    __array_priority__ = 1000
    __array_ufunc__ = None  # numpy_host_array (op) device_array raises TypeError, as in CuPy

    def __init__(self, a: _np.ndarray) -> None:
        root = a
        while isinstance(root.base, _np.ndarray):
            root = root.base
        if root.base is None and id(root) not in _allocations:
            _register(root)
        self._a = a
        self._root = root  # keeps the registered allocation alive

    # -- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))
    data = property(lambda self: _MemoryPointer(self._a.__array_interface__["data"][0]))

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use "
                        "`.get()` to construct a NumPy array explicitly.")

    def get(self) -> _np.ndarray:
        return self._a.copy()

    def astype(self, dtype: Any, copy: bool = True, **kwargs: Any) -> ndarray:
        return ndarray(self._a.astype(dtype, copy=copy, **kwargs))

    def view(self, dtype: Any) -> ndarray:
        return ndarray(self._a.view(dtype))

    def copy(self) -> ndarray:
        return ndarray(self._a.copy())

    def fill(self, value: Any) -> None:
        self._a.fill(value)

    def reshape(self, *shape: Any) -> ndarray:
        return ndarray(self._a.reshape(*shape))

    def ravel(self) -> ndarray:
        return ndarray(self._a.ravel())

    def transpose(self, *axes: Any) -> ndarray:
        return ndarray(self._a.transpose(*axes))

    def sum(self, *args: Any, **kwargs: Any) -> ndarray:
        return ndarray(_np.asarray(self._a.sum(*args, **kwargs)))

    def __getitem__(self, key: Any) -> ndarray:
        return _wrap(_np.asarray(self._a[_index(key)]))

    def __setitem__(self, key: Any, value: Any) -> None:
        self._a[_index(key)] = _host(value, "__setitem__")

    def __len__(self) -> int:
        return len(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __index__(self) -> int:
        return self._a.__index__()

    def __repr__(self) -> str:
        return f"emulated cupy array({self._a!r})"

    def __iter__(self) -> Any:
        raise TypeError("iterating over a device array is not supported here")


def _index(key: Any) -> Any:
    """Indices: device arrays unwrapped; host index arrays are accepted (CuPy copies them)."""
    if isinstance(key, tuple):
        return tuple(k._a if isinstance(k, ndarray) else k for k in key)
    return key._a if isinstance(key, ndarray) else key


def _binary(op: Any, reflected: bool = False) -> Any:
    def method(self: ndarray, other: Any) -> Any:
        other = _host(other, op.__name__)
        return _wrap(_np.asarray(op(other, self._a) if reflected else op(self._a, other)))
    return method


def _inplace(op: Any) -> Any:
    def method(self: ndarray, other: Any) -> ndarray:
        op(self._a, _host(other, op.__name__), out=self._a)
        return self
    return method


for _name, _op in [("add", _np.add), ("sub", _np.subtract), ("mul", _np.multiply),
                   ("truediv", _np.true_divide), ("floordiv", _np.floor_divide),
                   ("mod", _np.remainder), ("pow", _np.power), ("matmul", _np.matmul),
                   ("and", _np.bitwise_and), ("or", _np.bitwise_or), ("xor", _np.bitwise_xor),
                   ("lshift", _np.left_shift), ("rshift", _np.right_shift)]:
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(_op))
for _name, _op in [("eq", _np.equal), ("ne", _np.not_equal), ("lt", _np.less),
                   ("le", _np.less_equal), ("gt", _np.greater), ("ge", _np.greater_equal)]:
    setattr(ndarray, f"__{_name}__", _binary(_op))
ndarray.__hash__ = None  # type: ignore[assignment]
ndarray.__neg__ = lambda self: ndarray(-self._a)  # type: ignore[attr-defined]
ndarray.__invert__ = lambda self: ndarray(~self._a)  # type: ignore[attr-defined]
ndarray.__abs__ = lambda self: ndarray(abs(self._a))  # type: ignore[attr-defined]


# -- module functions ------------------------------------------------------------------------------


def asarray(a: Any, dtype: Any = None, order: Any = None) -> ndarray:
    """A device copy of a host array (or the device array itself when nothing changes)."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == _np.dtype(dtype) else a.astype(dtype)
    return ndarray(_np.array(a, dtype=dtype, order=order or "K", copy=True))


array = asarray


def asnumpy(a: Any) -> _np.ndarray:
    return a.get() if isinstance(a, ndarray) else _np.asarray(a)


def ascontiguousarray(a: ndarray, dtype: Any = None) -> ndarray:
    if not isinstance(a, ndarray):
        raise TypeError("ascontiguousarray expects a device array")
    out = _np.ascontiguousarray(a._a, dtype=dtype)
    return a if out is a._a else ndarray(out)


def _device_function(name: str) -> Any:
    fn = getattr(_np, name)

    def call(*args: Any, **kwargs: Any) -> Any:
        args = tuple(_host(a, name) for a in args)
        kwargs = {k: _host(v, name) for k, v in kwargs.items()}
        out = fn(*args, **kwargs)
        if isinstance(out, _np.generic):  # CuPy returns 0-d device arrays, never scalars
            out = _np.asarray(out)
        return _wrap(out)

    call.__name__ = name
    return call


for _name in ("zeros", "ones", "empty", "full", "arange", "zeros_like", "empty_like", "ones_like",
              "count_nonzero", "nonzero", "flatnonzero", "rint", "sqrt", "pad", "unpackbits",
              "where", "concatenate", "stack", "isfinite", "isnan", "maximum", "minimum", "abs",
              "all", "any", "roll", "cumsum", "bincount", "sort", "argsort", "lexsort"):
    globals()[_name] = _device_function(_name)


def packbits(a: ndarray, axis: int | None = None, bitorder: str = "big") -> ndarray:
    """As ``cupy.packbits``, which has no ``axis`` (NotImplementedError up to CuPy 14)."""
    if axis is not None:
        raise NotImplementedError("axis option is not supported yet")
    return ndarray(_np.packbits(_host(a, "packbits"), bitorder=bitorder))


def is_available() -> bool:
    return True


class _MemoryPool:
    """No pool here: freed arrays go back to the host at once."""

    def free_bytes(self) -> int:
        return 0


def get_default_memory_pool() -> _MemoryPool:
    return _MemoryPool()


from cupy import cuda, random  # noqa: E402
from cupy._kernels import RawKernel  # noqa: E402

__all__ = ["RawKernel", "asarray", "asnumpy", "cuda", "ndarray", "random"]
