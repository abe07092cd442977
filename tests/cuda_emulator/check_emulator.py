"""The CPU stand-in for CuPy catches what it claims to catch (run by test_fc_cupy_emulated.py
with this folder on PYTHONPATH; not collected by the main test run, where ``cupy`` may be real)."""

from __future__ import annotations

import cupy as cp
import numpy as np
import pytest
from cupy.cuda import cublas, device


def gemm(a, b, out, *, lda, ldb, ldc, compute=cublas.CUBLAS_COMPUTE_32F, k=None):
    one, zero = np.float32(1), np.float32(0)
    alpha, beta = np.array(one), np.array(zero)
    m, n = out.shape[1], out.shape[0]
    cublas.gemmEx(device.get_cublas_handle(), cublas.CUBLAS_OP_T, cublas.CUBLAS_OP_N, m, n,
                  k if k is not None else a.shape[1], alpha.ctypes.data, b.data.ptr,
                  cublas.CUDA_R_32F, ldb, a.data.ptr, cublas.CUDA_R_32F, lda, beta.ctypes.data,
                  out.data.ptr, cublas.CUDA_R_32F, ldc, compute, -1)


def test_gemm_follows_the_column_major_definition():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, (6, 9)).astype(np.float32), rng.integers(0, 5, (4, 9)).astype(np.float32)
    out = cp.empty((6, 4), dtype=cp.float32)
    gemm(cp.asarray(a), cp.asarray(b), out, lda=9, ldb=9, ldc=4)
    assert np.array_equal(cp.asnumpy(out), a @ b.T)


def test_gemm_refuses_a_leading_dimension_past_the_allocation():
    a, b = cp.zeros((6, 9), dtype=cp.float32), cp.zeros((4, 9), dtype=cp.float32)
    out = cp.empty((6, 4), dtype=cp.float32)
    with pytest.raises(RuntimeError, match="outside every device allocation"):
        gemm(a, b, out, lda=10, ldb=9, ldc=4)
    with pytest.raises(cublas.CUBLASError, match="INVALID_VALUE"):
        gemm(a, b, out, lda=9, ldb=9, ldc=4, k=10)


def test_tf32_rounds_the_inputs():
    a = cp.asarray(np.full((1, 1), 1 + 2.0**-12, np.float32))
    out = cp.empty((1, 1), dtype=cp.float32)
    gemm(a, a, out, lda=1, ldb=1, ldc=1, compute=cublas.CUBLAS_COMPUTE_32F_FAST_TF32)
    assert float(out[0, 0]) == 1.0
    gemm(a, a, out, lda=1, ldb=1, ldc=1)
    assert float(out[0, 0]) > 1.0


def test_a_kernel_reading_past_an_array_is_reported():
    src = r'''
    extern "C" __global__ void past(const float* __restrict__ x, float* __restrict__ y, const int n) {
        const int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i <= n) y[i] = x[i] * 2.0f;
    }'''
    kernel = cp.RawKernel(src, "past")
    x, y = cp.ones(10, dtype=cp.float32), cp.zeros(10, dtype=cp.float32)
    with pytest.raises(RuntimeError, match="out-of-bounds"):
        kernel((1,), (32,), (x, y, np.int32(10)))
    kernel((1,), (32,), (x, y, np.int32(9)))
    assert np.array_equal(cp.asnumpy(y), np.full(10, 2.0))
    with pytest.raises(TypeError, match="float64"):
        kernel((1,), (32,), (x, y, np.float64(9)))
    with pytest.raises(TypeError, match="not a device array"):
        kernel((1,), (32,), (np.ones(10, np.float32), y, np.int32(9)))


def test_shared_memory_and_barriers_work_per_block():
    src = r'''
    extern "C" __global__ void reverse(const int* __restrict__ x, int* __restrict__ y) {
        __shared__ int tile[64];
        const int t = threadIdx.x, base = blockIdx.x * 64;
        tile[t] = x[base + t];
        __syncthreads();
        y[base + t] = tile[63 - t];
    }'''
    x = cp.asarray(np.arange(192, dtype=np.int32))
    y = cp.zeros(192, dtype=cp.int32)
    cp.RawKernel(src, "reverse")((3,), (64,), (x, y))
    assert np.array_equal(cp.asnumpy(y), np.arange(192).reshape(3, 64)[:, ::-1].ravel())


def test_host_and_device_arrays_do_not_mix():
    d = cp.zeros(3, dtype=cp.float32)
    with pytest.raises(TypeError):
        d + np.ones(3, np.float32)
    with pytest.raises(TypeError):
        np.ones(3, np.float32) + d
    with pytest.raises(TypeError):
        np.asarray(d)
    with pytest.raises(NotImplementedError):
        cp.packbits(cp.zeros((2, 8), dtype=cp.bool_), axis=1)
