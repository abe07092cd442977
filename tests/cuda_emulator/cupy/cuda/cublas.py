"""``cupy.cuda.cublas`` of the CPU stand-in: ``gemmEx`` by the cuBLAS definition, checked.

C (m x n) = alpha op(A) op(B) + beta C, every matrix column-major with its leading dimension;
op(A) is m x k (A stored m x k, or k x m when transposed), op(B) k x n. Checked as cuBLAS
checks (leading dimensions at least the stored rows, CUBLAS_STATUS_INVALID_VALUE otherwise),
plus what a GPU would only show as garbage: every matrix's extent must lie inside one live
device allocation, alpha and beta must be host memory in host pointer mode, and the INT8 path's
alignment rules. TF32 compute rounds A and B to TF32 (10-bit mantissa) and sums in float32.
"""

from __future__ import annotations

import ctypes

import numpy as np

import cupy

CUBLAS_OP_N, CUBLAS_OP_T = 0, 1
CUDA_R_32F, CUDA_R_8I, CUDA_R_32I = 0, 3, 10
CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32I = 68, 77, 72
CUBLAS_COMPUTE_32F_PEDANTIC = 69
CUBLAS_POINTER_MODE_HOST, CUBLAS_POINTER_MODE_DEVICE = 0, 1
_DTYPES = {CUDA_R_32F: np.dtype(np.float32), CUDA_R_8I: np.dtype(np.int8),
           CUDA_R_32I: np.dtype(np.int32)}
_pointer_mode: dict[int, int] = {}
calls: list[dict[str, int]] = []  # every gemmEx call's sizes, for tests


class CUBLASError(RuntimeError):
    pass


def setPointerMode(handle: int, mode: int) -> None:
    if mode not in (CUBLAS_POINTER_MODE_HOST, CUBLAS_POINTER_MODE_DEVICE):
        raise CUBLASError("CUBLAS_STATUS_INVALID_VALUE: pointer mode")
    _pointer_mode[handle] = mode


def getPointerMode(handle: int) -> int:
    return _pointer_mode.get(handle, CUBLAS_POINTER_MODE_HOST)


def _matrix(ptr: int, dtype: np.dtype, rows: int, cols: int, ld: int, what: str) -> np.ndarray:
    """The column-major rows x cols matrix at ``ptr`` with leading dimension ``ld`` (a view)."""
    if ld < max(1, rows):
        raise CUBLASError(f"CUBLAS_STATUS_INVALID_VALUE: ld{what} = {ld} < {rows} rows")
    if rows == 0 or cols == 0:
        return np.zeros((rows, cols), dtype)
    nbytes = ((cols - 1) * ld + rows) * dtype.itemsize
    if ptr % dtype.itemsize:
        raise CUBLASError(f"{what}: pointer {ptr:#x} not aligned to its {dtype} elements")
    cupy.check_extent(ptr, ptr + nbytes, f"gemmEx matrix {what}")
    buf = (ctypes.c_char * nbytes).from_address(ptr)
    return np.ndarray((rows, cols), dtype, buffer=buf, strides=(dtype.itemsize, ld * dtype.itemsize))


def _host_scalar(ptr: int, dtype: np.dtype, handle: int, what: str) -> float:
    if getPointerMode(handle) != CUBLAS_POINTER_MODE_HOST:
        raise CUBLASError("the emulator supports host pointer mode only")
    try:
        cupy.check_extent(ptr, ptr + dtype.itemsize, what)
    except RuntimeError:
        return np.frombuffer((ctypes.c_char * dtype.itemsize).from_address(ptr), dtype)[0]
    raise CUBLASError(f"{what} points into device memory in host pointer mode")


def _tf32(x: np.ndarray) -> np.ndarray:
    """float32 values rounded to TF32 (10 explicit mantissa bits, to nearest even)."""
    bits = x.astype(np.float32).view(np.uint32)
    bits = (bits + np.uint32(0x0FFF) + ((bits >> np.uint32(13)) & np.uint32(1))) & np.uint32(0xFFFFE000)
    return bits.view(np.float32)


def gemmEx(handle: int, transa: int, transb: int, m: int, n: int, k: int, alpha: int, A: int,
           Atype: int, lda: int, B: int, Btype: int, ldb: int, beta: int, C: int, Ctype: int,
           ldc: int, computeType: int, algo: int) -> None:
    if min(m, n, k) < 0 or transa not in (0, 1) or transb not in (0, 1):
        raise CUBLASError("CUBLAS_STATUS_INVALID_VALUE: sizes or operations")
    if computeType in (CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_PEDANTIC,
                       CUBLAS_COMPUTE_32F_FAST_TF32):
        if not Atype == Btype == Ctype == CUDA_R_32F:
            raise CUBLASError("CUBLAS_STATUS_NOT_SUPPORTED: 32F compute wants 32F matrices here")
        acc, scalar = np.dtype(np.float32), np.dtype(np.float32)
    elif computeType == CUBLAS_COMPUTE_32I:
        if not (Atype == Btype == CUDA_R_8I and Ctype == CUDA_R_32I):
            raise CUBLASError("CUBLAS_STATUS_NOT_SUPPORTED: 32I compute wants 8I x 8I -> 32I")
        if transa != CUBLAS_OP_T or transb != CUBLAS_OP_N:
            raise CUBLASError("CUBLAS_STATUS_NOT_SUPPORTED: INT8 GEMM wants op(A) = T, op(B) = N")
        if lda % 4 or ldb % 4 or ldc % 4 or A % 4 or B % 4:
            raise CUBLASError("CUBLAS_STATUS_INVALID_VALUE: INT8 GEMM wants leading dimensions "
                              "and pointers multiples of 4")
        acc, scalar = np.dtype(np.int32), np.dtype(np.int32)
    else:
        raise CUBLASError(f"CUBLAS_STATUS_NOT_SUPPORTED: compute type {computeType}")
    a = _matrix(A, _DTYPES[Atype], *((m, k) if transa == CUBLAS_OP_N else (k, m)), lda, "A")
    b = _matrix(B, _DTYPES[Btype], *((k, n) if transb == CUBLAS_OP_N else (n, k)), ldb, "B")
    c = _matrix(C, _DTYPES[Ctype], m, n, ldc, "C")
    op_a = a if transa == CUBLAS_OP_N else a.T
    op_b = b if transb == CUBLAS_OP_N else b.T
    if computeType == CUBLAS_COMPUTE_32F_FAST_TF32:
        op_a, op_b = _tf32(op_a), _tf32(op_b)
    prod = np.matmul(op_a.astype(acc), op_b.astype(acc))
    al = _host_scalar(alpha, scalar, handle, "alpha")
    be = _host_scalar(beta, scalar, handle, "beta")
    calls.append({"m": m, "n": n, "k": k, "compute": computeType})
    if be == 0:  # C is not read (it may hold garbage)
        c[...] = (al * prod).astype(c.dtype)
    else:
        c[...] = (al * prod + be * c.astype(acc)).astype(c.dtype)
