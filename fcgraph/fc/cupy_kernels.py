"""Place for hand-written CuPy kernels (none yet).

Today the ``cupy`` backend runs the same code as NumPy with ``cupy`` as the array module:
float32 GEMMs of 0/1 matrices (exact up to 2**24 bins per product, also under TF32). Kernels
that would belong here, each to be written together with a GPU test that compares it with the
NumPy backend bit for bit (``pytest.importorskip("cupy")`` plus ``cupy.is_available()``):

- a fused shifted-null kernel: for each shift, the two column-split products of
  :func:`fcgraph.fc.counts.shifted_counts` plus the running sum, sum of squares and
  exceedance count, without writing each shift's (n_pre, n_post) counts to memory;
- an INT8 tensor-core GEMM (``cublasGemmEx`` with CUDA_R_8I inputs and CUBLAS_COMPUTE_32I) for
  the cofiring counts, if it beats TF32 on the target GPU;
- a popcount kernel over bit-packed trains, for memory-bound cases.

The project field notes (GEMM facts for cofiring counts) list the CuPy facts these rest on.
"""
