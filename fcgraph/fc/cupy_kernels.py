"""CuPy kernels: TF32/INT8 cuBLAS counts, shifted products without copies, a fused shift null.

Importable without CuPy (everything CuPy-specific is built on first use); use
:func:`available` before calling anything else. ``tests/fc/test_fc_cupy.py`` compares every kernel
with the NumPy backend (counts bit for bit). CI runs it against a CPU stand-in for CuPy
(``tests/cuda_emulator``: the kernels compiled with g++, cuBLAS's gemmEx by its definition,
bounds-checked), and ``tests/fc/test_fc_nvrtc.py`` compiles the kernels with NVRTC; on a GPU
``scripts/gpu_check.sh`` runs the tests against CuPy itself.

- :func:`gemm_nt`: ``out (+)= a[:, a0:a0+k] @ b[:, b0:b0+k].T`` for C-ordered float32 0/1
  matrices through ``cublasGemmEx`` with ``CUBLAS_COMPUTE_32F_FAST_TF32``: column slices are
  passed as pointer offsets with the full row length as leading dimension, so no slice or
  rolled copy is made. 0/1 inputs are exact in TF32 and the accumulation is float32, so counts
  are exact while k < 2**24 bins.
- :func:`shifted_counts`: the counts of ``pre`` against ``numpy.roll(post, s, axis=1)`` as two
  such products on split column ranges (docs/design.md), the second accumulated with beta = 1.
- :func:`counts_int8`: the same counts through INT8 tensor cores (``CUDA_R_8I`` inputs,
  ``CUDA_R_32I`` output, ``CUBLAS_COMPUTE_32I``), rows padded to a multiple of 4 bytes.
- :func:`popcount_counts`: counts from bit-packed trains (uint64 words, bit t of word w is
  bin 64 w + t, as ``numpy.packbits(..., bitorder="little")`` viewed as little-endian uint64)
  by a shared-memory tiled ``__popcll(a & b)`` kernel, and :func:`roll_words` (a circular roll
  of packed trains): for trains too long to fit the GPU as float32 (32x less memory); the shift
  null switches to them when float32 trains would not fit (:func:`needs_packing`).
- :class:`ShiftNullEngine`: the shift null of one layer pair, tile by tile: per shift two TF32
  products into one of ``batch`` float32 buffers, and per batch one kernel that adds the
  buffers' counts and squared counts to int64 sums (one pass over the sums per batch, not per
  shift); then one fused kernel turns counts, spike counts and moments into the measure (STTC or
  Pearson, double precision with FMA contraction off, the same operations in the same order as
  :mod:`fcgraph.fc.measures`, so results equal NumPy's), the null mean and sample SD (combined
  in int64 around a nearby integer, so an SD of 0 is exactly 0), z, and flags (tested, spread,
  valid, negative tail, edge). Only the edges' numbers and four counters leave the device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.errors import FcgraphError
from fcgraph.fc.gpu import STAGING_SHARE, cupy_if_available, free_device_bytes
from fcgraph.spikes import F32_EXACT_BINS

# cuBLAS / CUDA enum values (cublas_api.h, library_types.h)
CUBLAS_OP_N, CUBLAS_OP_T = 0, 1
CUDA_R_32F, CUDA_R_8I, CUDA_R_32I = 0, 3, 10
CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32I = 68, 77, 72
CUBLAS_COMPUTE_32F_PEDANTIC = 69  # IEEE float32 whatever the handle's math mode
CUBLAS_GEMM_DEFAULT = -1
CUBLAS_POINTER_MODE_HOST = 0

FLAG_TESTED, FLAG_SPREAD, FLAG_VALID, FLAG_NEG, FLAG_EDGE = 1, 2, 4, 8, 16
MEASURE_CODES = {"cofire": 0, "sttc": 1, "pearson": 2}

#: Most bytes of shifted-count buffers one :class:`ShiftNullEngine` tile holds.
BATCH_BYTES = 2 << 30

_cache: dict[str, Any] = {}


def cupy_module() -> Any:
    """The ``cupy`` module when it imports and sees a GPU, else None (never raises)."""
    return cupy_if_available()


def available() -> bool:
    """True when CuPy imports and a GPU is usable."""
    return cupy_module() is not None


def _cp() -> Any:
    cp = cupy_module()
    if cp is None:
        raise FcgraphError("CuPy is not installed or sees no GPU")
    return cp


# -- cuBLAS products ------------------------------------------------------------------------------


def _check_rows(x: Any, dtype: str, name: str) -> None:
    if x.dtype != np.dtype(dtype) or x.ndim != 2 or not x.flags.c_contiguous:
        raise FcgraphError(f"{name} must be a C-ordered 2-D {dtype} device array, got {x.dtype} "
                           f"{x.shape}")


def gemm_nt(out: Any, a: Any, a0: int, b: Any, b0: int, k: int, *, beta: float = 0.0,
            compute: int = CUBLAS_COMPUTE_32F_FAST_TF32) -> Any:
    """``out = a[:, a0:a0+k] @ b[:, b0:b0+k].T + beta * out`` by ``cublasGemmEx``, no copies.

    ``a`` (m, La), ``b`` (n, Lb) and ``out`` (m, n): C-ordered float32 device arrays. Row-major
    ``out`` is column-major ``out.T`` = op(B) x op(A) with B = b's slice seen as a (k, n)
    column-major matrix (leading dimension Lb, transposed) and A = a's slice as (k, m)
    (leading dimension La): m_blas = n, n_blas = m.
    """
    _cp()  # a clear error without a GPU
    from cupy.cuda import cublas, device

    _check_rows(a, "float32", "a")
    _check_rows(b, "float32", "b")
    _check_rows(out, "float32", "out")
    m, n = a.shape[0], b.shape[0]
    if out.shape != (m, n):
        raise FcgraphError(f"out has shape {out.shape}, expected {(m, n)}")
    if not (a0 >= 0 and a0 + k <= a.shape[1] and b0 >= 0 and b0 + k <= b.shape[1]):
        raise FcgraphError("column range outside the trains")
    if k >= F32_EXACT_BINS:
        raise FcgraphError(f"one product may sum at most 2**24 bins exactly, got {k}")
    if k == 0 or m == 0 or n == 0:
        if beta == 0.0:
            out.fill(0)
        return out
    handle = device.get_cublas_handle()
    cublas.setPointerMode(handle, CUBLAS_POINTER_MODE_HOST)
    alpha_h = np.array(1.0, dtype=np.float32)
    beta_h = np.array(beta, dtype=np.float32)
    item = 4
    cublas.gemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k,
                  alpha_h.ctypes.data, b.data.ptr + b0 * item, CUDA_R_32F, b.shape[1],
                  a.data.ptr + a0 * item, CUDA_R_32F, a.shape[1],
                  beta_h.ctypes.data, out.data.ptr, CUDA_R_32F, n,
                  compute, CUBLAS_GEMM_DEFAULT)
    return out


def counts_tf32(a: Any, b: Any, out: Any = None) -> Any:
    """Exact cofiring counts (m, n) float32 of 0/1 float32 device trains a (m, L), b (n, L)."""
    cp = _cp()
    if out is None:
        out = cp.empty((a.shape[0], b.shape[0]), dtype=cp.float32)
    return gemm_nt(out, a, 0, b, 0, a.shape[1])


def shifted_counts(a: Any, b: Any, shift: int, out: Any = None) -> Any:
    """Counts (m, n) float32 of ``a`` against ``roll(b, shift, axis=1)``: two products, no copy.

    roll(b, s)[:, t] = b[:, t - s], so the count is ``a[:, s:] . b[:, :L-s] + a[:, :s] .
    b[:, L-s:]`` (s taken modulo L).
    """
    cp = _cp()
    L = a.shape[1]
    if b.shape[1] != L:
        raise FcgraphError("a and b differ in length")
    if out is None:
        out = cp.empty((a.shape[0], b.shape[0]), dtype=cp.float32)
    s = int(shift) % L
    if s == 0:
        return gemm_nt(out, a, 0, b, 0, L)
    gemm_nt(out, a, s, b, 0, L - s)
    return gemm_nt(out, a, 0, b, L - s, s, beta=1.0)


def counts_int8(a: Any, b: Any) -> Any:
    """Exact counts (m, n) int32 of 0/1 int8 device trains a (m, L), b (n, L) on INT8 tensor
    cores (``cublasGemmEx``, CUBLAS_COMPUTE_32I, the "TN" layout INT8 needs). Bins and rows
    are padded with zeros to multiples of 4 (cuBLAS's INT8 alignment rules)."""
    cp = _cp()
    from cupy.cuda import cublas, device

    m, L = a.shape
    n = b.shape[0]
    pad, pad_m, pad_n = (-L) % 4, (-m) % 4, (-n) % 4  # leading dimensions multiples of 4
    if pad or pad_m:
        a = cp.pad(a, ((0, pad_m), (0, pad)))
    if pad or pad_n:
        b = cp.pad(b, ((0, pad_n), (0, pad)))
    a = cp.ascontiguousarray(a, dtype=cp.int8)
    b = cp.ascontiguousarray(b, dtype=cp.int8)
    k = L + pad
    m4, n4 = m + pad_m, n + pad_n
    out = cp.empty((m4, n4), dtype=cp.int32)
    handle = device.get_cublas_handle()
    cublas.setPointerMode(handle, CUBLAS_POINTER_MODE_HOST)
    alpha_h = np.array(1, dtype=np.int32)
    beta_h = np.array(0, dtype=np.int32)
    cublas.gemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, n4, m4, k,
                  alpha_h.ctypes.data, b.data.ptr, CUDA_R_8I, k,
                  a.data.ptr, CUDA_R_8I, k,
                  beta_h.ctypes.data, out.data.ptr, CUDA_R_32I, n4,
                  CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT)
    return out if (m4, n4) == (m, n) else cp.ascontiguousarray(out[:m, :n])


# -- bit-packed popcount ---------------------------------------------------------------------------

_POPCOUNT_SRC = r"""
extern "C" __global__ void fcgraph_popcount_counts(
        const unsigned long long* __restrict__ a, const unsigned long long* __restrict__ b,
        int* __restrict__ out, const int m, const int n, const int words) {
    // 16 x 16 threads; each computes out[i, j]; word tiles of 32 staged in shared memory
    __shared__ unsigned long long sa[16][33];
    __shared__ unsigned long long sb[16][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int i = blockIdx.y * 16 + ty, j = blockIdx.x * 16 + tx;
    int acc = 0;
    for (int w0 = 0; w0 < words; w0 += 32) {
        for (int w = tx; w < 32; w += 16) {
            const int col = w0 + w;
            const int ra = blockIdx.y * 16 + ty, rb = blockIdx.x * 16 + ty;
            sa[ty][w] = (ra < m && col < words) ? a[(long long)ra * words + col] : 0ULL;
            sb[ty][w] = (rb < n && col < words) ? b[(long long)rb * words + col] : 0ULL;
        }
        __syncthreads();
        #pragma unroll 8
        for (int w = 0; w < 32; ++w) acc += __popcll(sa[ty][w] & sb[tx][w]);
        __syncthreads();
    }
    if (i < m && j < n) out[(long long)i * n + j] = acc;
}
"""


def pack_words(spikes: Any) -> Any:
    """Boolean (n, L) device trains as uint64 words (n, ceil(L / 64)), bin t = bit t % 64 of
    word t // 64 (little bit order; zero padding)."""
    cp = _cp()
    n, L = spikes.shape
    width = -(-L // 64) * 64
    bits = cp.zeros((n, width), dtype=cp.bool_)
    bits[:, :L] = spikes
    # cupy.packbits has no axis: rows of whole words pack the same flat
    return cp.packbits(bits.ravel(), bitorder="little").reshape(n, width // 8).view(cp.uint64)


def host_words(spikes: np.ndarray) -> np.ndarray:
    """Boolean host trains (n, L) as the uint64 words of :func:`pack_words` (n, ceil(L / 64)),
    packed on the host (8x less to copy to the device than bytes, 32x less than float32)."""
    from fcgraph.spikes import pack

    n, L = spikes.shape
    out = np.zeros((n, -(-L // 64) * 8), dtype=np.uint8)
    out[:, :-(-L // 8)] = pack(spikes)
    return out.view("<u8")


_ROLL_SRC = r"""
extern "C" __global__ void fcgraph_roll_words(
        const unsigned long long* __restrict__ in, unsigned long long* __restrict__ out,
        const int n, const int words, const long long L, const long long s) {
    // out row = numpy.roll(in row, s) on L bits packed little-endian in `words` words (s in 0..L-1)
    const long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= (long long)n * words) return;
    const long long row = k / words, w = k % words;
    unsigned long long acc = 0ULL;
    for (int b = 0; b < 64; ++b) {
        const long long t = w * 64 + b;
        if (t >= L) break;
        long long u = t - s;
        if (u < 0) u += L;
        acc |= ((in[row * words + (u >> 6)] >> (u & 63)) & 1ULL) << b;
    }
    out[k] = acc;
}
"""


def roll_words(words: Any, L: int, shift: int, out: Any = None) -> Any:
    """``numpy.roll`` by ``shift`` bins of packed trains (n, W) uint64 of L bins (zero padding
    kept), as packed trains (n, W)."""
    cp = _cp()
    if "roll" not in _cache:
        _cache["roll"] = cp.RawKernel(_ROLL_SRC, "fcgraph_roll_words")
    n, width = words.shape
    if out is None:
        out = cp.empty_like(words)
    _launch(_cache["roll"], n * width, (words, out, np.int32(n), np.int32(width), np.int64(L),
                                        np.int64(int(shift) % L)))
    return out


def popcount_counts(a_words: Any, b_words: Any, out: Any = None) -> Any:
    """Counts (m, n) int32 from uint64 packed trains a (m, W), b (n, W) (see :func:`pack_words`);
    ``out``: a C-ordered (m, n) int32 device array to fill."""
    cp = _cp()
    if "popcount" not in _cache:
        _cache["popcount"] = cp.RawKernel(_POPCOUNT_SRC, "fcgraph_popcount_counts")
    m, words = a_words.shape
    n = b_words.shape[0]
    if b_words.shape[1] != words:
        raise FcgraphError("packed trains differ in length")
    a_words = cp.ascontiguousarray(a_words, dtype=cp.uint64)
    b_words = cp.ascontiguousarray(b_words, dtype=cp.uint64)
    if out is None:
        out = cp.empty((m, n), dtype=cp.int32)
    else:
        _check_rows(out, "int32", "out")
        if out.shape != (m, n):
            raise FcgraphError(f"out has shape {out.shape}, expected {(m, n)}")
    if m == 0 or n == 0:  # an empty grid is not a valid launch
        return out
    grid = ((n + 15) // 16, (m + 15) // 16)
    _cache["popcount"](grid, (16, 16), (a_words, b_words, out, np.int32(m), np.int32(n),
                                        np.int32(words)))
    return out


# -- the fused shift null ------------------------------------------------------------------------

_FINAL_SRC = r"""
extern "C" __global__ void fcgraph_shift_final(
        const float* __restrict__ obs, const long long* __restrict__ s1,
        const long long* __restrict__ s2, const long long* __restrict__ na,
        const long long* __restrict__ nb, const unsigned char* __restrict__ tested_pre,
        const unsigned char* __restrict__ tested_post, const unsigned char* __restrict__ cand,
        const int has_cand, const int m, const int n, const long long n_shifts,
        const double L, const double zthr, const int measure,
        double* __restrict__ value, double* __restrict__ mean, double* __restrict__ sd,
        double* __restrict__ z, unsigned char* __restrict__ flags) {
    const long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= (long long)m * n) return;
    const int i = (int)(k / n), j = (int)(k % n);
    const double c = (double)obs[k];
    const double a = (double)na[i], b = (double)nb[j];
    // the measure, as fcgraph.fc.measures computes it (same operations, same order)
    double v;
    if (measure == 0) {
        v = c;
    } else if (measure == 1) {
        const double pa = c / a, pb = c / b, ta = a / L, tb = b / L;
        const double den_a = 1.0 - pa * tb, den_b = 1.0 - pb * ta;
        v = 0.5 * ((pa - tb) / den_a + (pb - ta) / den_b);
        if (!isfinite(pa) || !isfinite(pb) || den_a == 0.0 || den_b == 0.0) v = nan("");
    } else {
        v = (L * c - a * b) / sqrt(a * (L - a) * b * (L - b));
        if (a == 0.0 || a == L || b == 0.0 || b == L) v = nan("");
    }
    // moments of the count over the shifts, exact in int64 around a nearby integer
    const long long t1 = s1[k], t2 = s2[k];
    const double mu = (double)t1 / (double)n_shifts;
    const long long ci = (long long)rint(mu);
    const long long d = t1 - n_shifts * ci;
    const long long e = t2 - ci * (2 * t1 - n_shifts * ci);
    double ss = (double)e - ((double)d * (double)d) / (double)n_shifts;
    if (ss < 0.0) ss = 0.0;
    const double sdev = n_shifts > 1 ? sqrt(ss / (double)(n_shifts - 1)) : nan("");
    const double zz = (c - mu) / sdev;
    unsigned char f = 0;
    const bool tested = tested_pre[i] && tested_post[j] && (!has_cand || cand[k]);
    if (tested) f |= 1;
    if (sdev > 0.0) f |= 2;
    const bool valid = tested && sdev > 0.0 && isfinite(v) && isfinite(zz);
    if (valid) f |= 4;
    if (valid && zz <= -zthr) f |= 8;
    if (valid && zz >= zthr) f |= 16;
    value[k] = v; mean[k] = mu; sd[k] = sdev; z[k] = zz; flags[k] = f;
}
"""


_ACCUMULATE_SRC = r"""
extern "C" __global__ void fcgraph_shift_accumulate(
        const float* __restrict__ counts, const int n_buf, const long long stride,
        const long long total, long long* __restrict__ s1, long long* __restrict__ s2) {
    // counts: n_buf shifted-count matrices of `total` pairs, `stride` apart; one pass adds all
    const long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= total) return;
    long long a = 0, b = 0;
    for (int g = 0; g < n_buf; ++g) {
        const long long v = (long long)counts[g * stride + k];
        a += v;
        b += v * v;
    }
    s1[k] += a;
    s2[k] += b;
}
"""


def _kernels() -> dict[str, Any]:
    cp = _cp()
    if "acc" not in _cache:
        _cache["acc"] = cp.RawKernel(_ACCUMULATE_SRC, "fcgraph_shift_accumulate")
        _cache["final"] = cp.RawKernel(_FINAL_SRC, "fcgraph_shift_final",
                                       options=("--fmad=false",))
    return _cache


def _launch(kernel: Any, total: int, args: tuple[Any, ...], threads: int = 256) -> None:
    """One thread per pair: ``kernel`` over ``total`` elements (none: no launch, since an empty
    grid is not a valid one)."""
    if total:
        kernel(((total + threads - 1) // threads,), (threads,), args)


def needs_packing(n_pre: int, L: int, free_bytes: int | None = None) -> bool:
    """True when float32 pre trains (n_pre, L) would take more than the share of the free device
    memory (``free_bytes``, default: :func:`free_device_bytes`) that one staged train matrix
    may take (:data:`fcgraph.fc.gpu.STAGING_SHARE`, the rule the other paths follow)."""
    if free_bytes is None:
        free_bytes = free_device_bytes()
    return 4 * n_pre * L > STAGING_SHARE * free_bytes


def _spike_counts(trains: np.ndarray, known: np.ndarray | None) -> np.ndarray:
    """Spikes per row, int64 (n,): ``known`` when given, else counted."""
    counts = np.count_nonzero(trains, axis=1) if known is None else known
    return np.ascontiguousarray(counts, dtype=np.int64)


class ShiftNullEngine:
    """The shift null of one layer pair on the GPU, computed a post tile at a time.

    ``pre`` (n_pre, L) boolean host trains; ``shifts`` int bin offsets; ``measure`` one of
    sttc, pearson, cofire (STTC at dt = 0); ``z`` threshold; ``tested_pre`` (n_pre,) bool;
    ``spike_counts``: the pre neurons' spikes (n_pre,) when already known;
    ``batch``: shifted-count matrices summed per pass of the accumulating kernel (fewer passes
    over the int64 moments), within :data:`BATCH_BYTES` of buffers. ``packed``: count with the
    bit-packed popcount kernel (each shift a rolled copy of the packed post tile) instead of
    TF32 products of float32 trains: 32x less memory for the trains, several times slower;
    None (default) chooses it only when float32 trains would not fit (:func:`needs_packing`).
    """

    def __init__(self, pre: np.ndarray, shifts: np.ndarray, *, measure: str, z: float,
                 tested_pre: np.ndarray, spike_counts: np.ndarray | None = None,
                 batch: int = 8, packed: bool | None = None) -> None:
        cp = _cp()
        if measure not in MEASURE_CODES:
            raise FcgraphError(f"unknown measure {measure!r}")
        self.cp = cp
        self.L = pre.shape[1]
        if self.L >= F32_EXACT_BINS:
            raise FcgraphError("the CuPy shift null handles L < 2**24 bins")
        self.packed = needs_packing(pre.shape[0], self.L) if packed is None else bool(packed)
        if self.packed:
            self.pre = cp.asarray(host_words(pre))
        else:  # cast on the GPU
            self.pre = cp.asarray(np.ascontiguousarray(pre, dtype=bool)).astype(cp.float32)
        self.na = cp.asarray(_spike_counts(pre, spike_counts))
        self.tested_pre = cp.asarray(np.asarray(tested_pre, dtype=np.uint8))
        self.shifts = [int(s) for s in np.asarray(shifts).tolist()]
        self.measure, self.z, self.batch = measure, float(z), max(1, int(batch))
        self.k = _kernels()

    def tile(self, post: np.ndarray, tested_post: np.ndarray, candidates: np.ndarray | None = None,
             spike_counts: np.ndarray | None = None,
             ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """Edges and pair counts of the pre layer against boolean post trains (n_tile, L)
        (``spike_counts``: theirs, (n_tile,), when already known).

        Returns ``(picked, counts)``: picked holds pre_idx, post_local (int64), cofire (int64),
        value, null_mean, null_sd, z (float64) of the edges ordered by post then pre; counts
        holds tested, zero_spread, nonfinite, negative_tail.
        """
        cp = self.cp
        m, n = self.pre.shape[0], post.shape[0]
        nb = cp.asarray(_spike_counts(post, spike_counts))
        total = m * n
        stride = max(64, -(-total // 64) * 64)  # each buffer 256-byte aligned, as cuBLAS likes
        n_buf = max(1, min(self.batch, len(self.shifts), BATCH_BYTES // (4 * stride)))
        bufs = cp.empty((n_buf, stride), dtype=cp.float32)
        s1 = cp.zeros((m, n), dtype=cp.int64)
        s2 = cp.zeros((m, n), dtype=cp.int64)
        if self.packed:
            b = cp.asarray(host_words(post))
            rolled, counts_i = cp.empty_like(b), cp.empty((m, n), dtype=cp.int32)
            obs = popcount_counts(self.pre, b, out=counts_i).astype(cp.float32)

            def shifted(s: int, out: Any) -> None:  # exact: counts < L < 2**24
                out[...] = popcount_counts(self.pre, roll_words(b, self.L, s, out=rolled),
                                           out=counts_i)
        else:
            b = cp.asarray(np.ascontiguousarray(post, dtype=bool)).astype(cp.float32)
            obs = counts_tf32(self.pre, b)

            def shifted(s: int, out: Any) -> None:
                shifted_counts(self.pre, b, s, out=out)
        for g0 in range(0, len(self.shifts), n_buf):
            group = self.shifts[g0:g0 + n_buf]
            for g, s in enumerate(group):
                shifted(s, bufs[g, :total].reshape(m, n))
            _launch(self.k["acc"], total, (bufs, np.int32(len(group)), np.int64(stride),
                                           np.int64(total), s1, s2))
        value = cp.empty((m, n), dtype=cp.float64)
        mean, sd, zz = cp.empty_like(value), cp.empty_like(value), cp.empty_like(value)
        flags = cp.empty((m, n), dtype=cp.uint8)
        has_cand = candidates is not None
        cand = cp.asarray(np.ascontiguousarray(candidates, dtype=np.uint8)) if has_cand else \
            cp.zeros(1, dtype=cp.uint8)
        _launch(self.k["final"], total,
                (obs, s1, s2, self.na, nb, self.tested_pre,
                 cp.asarray(np.asarray(tested_post, dtype=np.uint8)), cand, np.int32(has_cand),
                 np.int32(m), np.int32(n), np.int64(len(self.shifts)), np.float64(self.L),
                 np.float64(self.z), np.int32(MEASURE_CODES[self.measure]), value, mean, sd, zz,
                 flags))
        tested = (flags & FLAG_TESTED) != 0
        spread = (flags & FLAG_SPREAD) != 0
        valid = (flags & FLAG_VALID) != 0
        counts = {"tested": int(cp.count_nonzero(tested)),
                  "zero_spread": int(cp.count_nonzero(tested & ~spread)),
                  "nonfinite": int(cp.count_nonzero(tested & spread & ~valid)),
                  "negative_tail": int(cp.count_nonzero((flags & FLAG_NEG) != 0))}
        # edges ordered by post, then pre: nonzero over the transposed flags
        post_local, pre_idx = cp.nonzero(((flags & FLAG_EDGE) != 0).T)
        picked = {"pre_idx": cp.asnumpy(pre_idx).astype(np.int64),
                  "post_local": cp.asnumpy(post_local).astype(np.int64),
                  "cofire": cp.asnumpy(cp.rint(obs[pre_idx, post_local])).astype(np.int64),
                  "value": cp.asnumpy(value[pre_idx, post_local]),
                  "null_mean": cp.asnumpy(mean[pre_idx, post_local]),
                  "null_sd": cp.asnumpy(sd[pre_idx, post_local]),
                  "z": cp.asnumpy(zz[pre_idx, post_local])}
        return picked, counts
