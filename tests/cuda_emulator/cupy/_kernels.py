"""CUDA C++ raw kernels of the CPU stand-in, compiled with g++ and run block by block.

:class:`RawKernel` compiles the kernel source unchanged except for its parameter list: every
pointer parameter becomes a bounds-checked pointer (an out-of-bounds index is reported after
the launch instead of reading another array). ``threadIdx``, ``blockIdx``, ``blockDim`` and
``gridDim`` are thread-local globals; a kernel that calls ``__syncthreads`` runs each block as
real threads meeting at a ``std::barrier``, with ``__shared__`` variables shared by the block,
others run thread after thread. Arguments are checked as a GPU cannot: device arrays only, C
order, element and scalar types equal to the parameters'. Without ``--fmad=false`` the code is
compiled with FMA contraction, as NVRTC does by default.
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import cupy

C_TYPES = {"float": np.float32, "double": np.float64, "int": np.int32, "unsigned int": np.uint32,
           "long long": np.int64, "long long int": np.int64, "unsigned long long": np.uint64,
           "unsigned char": np.uint8, "signed char": np.int8, "char": np.int8,
           "short": np.int16, "bool": np.bool_}

PRELUDE = r"""
#include <barrier>
#include <cmath>
#include <thread>
#include <type_traits>
#include <vector>
struct emu_dim3 { unsigned x, y, z; };
static thread_local emu_dim3 threadIdx, blockIdx;
static emu_dim3 blockDim, gridDim;
static std::barrier<>* emu_barrier = nullptr;
static int emu_oob = 0;
static inline void __syncthreads() { emu_barrier->arrive_and_wait(); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __popc(unsigned x) { return __builtin_popcount(x); }
using std::isfinite; using std::isnan; using std::nan; using std::rint; using std::sqrt;
template <class T> struct emu_ptr {
    T* p; long long n;
    T& operator[](long long i) const {
        if (i < 0 || i >= n) { emu_oob = 1; static std::remove_const_t<T> dummy{}; return dummy; }
        return p[i];
    }
};
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __restrict__
"""

_SIGNATURE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)
_POINTER = re.compile(r"^(const\s+)?(.+?)\s*\*\s*(?:__restrict__\s*)?(\w+)$")
_SCALAR = re.compile(r"^(?:const\s+)?(.+?)\s+(\w+)$")
_fma = "fma" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else False
_build_dir = Path(tempfile.mkdtemp(prefix="cupy-emulator-"))
atexit.register(shutil.rmtree, _build_dir, ignore_errors=True)


def _compile(source: str, options: tuple[str, ...]) -> ctypes.CDLL:
    flags = ["-std=c++20", "-O2", "-shared", "-fPIC", "-pthread"]
    fmad = True
    for opt in options:
        if opt in ("--fmad=false", "-fmad=false"):
            fmad = False
        elif opt in ("--fmad=true", "-fmad=true") or opt.startswith(("-std=", "--std=")):
            continue
        else:
            raise ValueError(f"the emulator does not know the NVRTC option {opt!r}")
    flags += ["-mfma", "-ffp-contract=fast"] if fmad and _fma else ["-ffp-contract=off"]
    key = hashlib.sha256((source + " ".join(flags)).encode()).hexdigest()[:16]
    so = _build_dir / f"k{key}.so"
    if not so.exists():
        src = _build_dir / f"k{key}.cpp"
        src.write_text(source)
        done = subprocess.run(["g++", *flags, str(src), "-o", str(so)], capture_output=True,
                              text=True)
        if done.returncode:
            raise RuntimeError(f"kernel compilation failed:\n{done.stderr}")
    return ctypes.CDLL(str(so))


def _c_type(name: str) -> Any:
    name = " ".join(name.split())
    if name not in C_TYPES:
        raise ValueError(f"the emulator does not know the C type {name!r}")
    return np.dtype(C_TYPES[name])


class RawKernel:
    """``cupy.RawKernel(code, name, options=())``; call as ``kernel(grid, block, args)``."""

    def __init__(self, code: str, name: str, options: tuple[str, ...] = (), **kwargs: Any) -> None:
        found = {m.group(1): m for m in _SIGNATURE.finditer(code)}
        if name not in found:
            raise ValueError(f"no extern \"C\" __global__ function {name!r} in the source")
        match = found[name]
        self.params: list[tuple[str, Any, str]] = []  # (kind, dtype, C type)
        decls = []
        for raw in match.group(2).split(","):
            raw = " ".join(raw.split())
            if m := _POINTER.match(raw):
                const, ctype, pname = m.groups()
                full = f"{'const ' if const else ''}{' '.join(ctype.split())}"
                self.params.append(("pointer", _c_type(ctype), full))
                decls.append(f"emu_ptr<{full}> {pname}")
            elif m := _SCALAR.match(raw):
                ctype, pname = m.groups()
                self.params.append(("scalar", _c_type(ctype), " ".join(ctype.split())))
                decls.append(f"const {ctype} {pname}")
            else:
                raise ValueError(f"cannot read the kernel parameter {raw!r}")
        body = code[:match.start(2)] + ", ".join(decls) + code[match.end(2):]
        args = ", ".join(
            f"emu_ptr<{c}>{{({c}*)args[{i}], sizes[{i}]}}" if kind == "pointer" else
            f"*(const {c}*)args[{i}]" for i, (kind, _, c) in enumerate(self.params))
        sync = "__syncthreads" in code
        launcher = f"""
extern "C" int emu_launch(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                          unsigned bz, void** args, const long long* sizes) {{
    gridDim = {{gx, gy, gz}}; blockDim = {{bx, by, bz}}; emu_oob = 0;
    const unsigned nt = bx * by * bz;
    for (unsigned z = 0; z < gz; ++z) for (unsigned y = 0; y < gy; ++y)
    for (unsigned x = 0; x < gx; ++x) {{
        if ({'true' if sync else 'false'}) {{
            std::barrier<> bar(nt);
            emu_barrier = &bar;
            std::vector<std::thread> team;
            for (unsigned t = 0; t < nt; ++t) team.emplace_back([=, &bar] {{
                blockIdx = {{x, y, z}};
                threadIdx = {{t % bx, (t / bx) % by, t / (bx * by)}};
                {name}({args});
                bar.arrive_and_drop();
            }});
            for (auto& th : team) th.join();
        }} else {{
            blockIdx = {{x, y, z}};
            for (unsigned t = 0; t < nt; ++t) {{
                threadIdx = {{t % bx, (t / bx) % by, t / (bx * by)}};
                {name}({args});
            }}
        }}
    }}
    return emu_oob;
}}
"""
        self.name = name
        self.lib = _compile(PRELUDE + body + launcher, tuple(options))

    def __call__(self, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...],
                 shared_mem: int = 0) -> None:
        if len(args) != len(self.params):
            raise TypeError(f"{self.name}: {len(args)} arguments for {len(self.params)} "
                            "parameters")
        grid3 = (tuple(grid) + (1, 1))[:3]
        block3 = (tuple(block) + (1, 1))[:3]
        if np.prod(block3) > 1024 or min(grid3 + block3) < 1:
            raise ValueError(f"{self.name}: bad launch configuration {grid} x {block}")
        pointers = (ctypes.c_void_p * len(args))()
        sizes = (ctypes.c_longlong * len(args))()
        keep = []
        for i, (arg, (kind, dtype, ctype)) in enumerate(zip(args, self.params, strict=True)):
            if kind == "pointer":
                if not isinstance(arg, cupy.ndarray):
                    raise TypeError(f"{self.name} argument {i} ({ctype}*): not a device array "
                                    f"({type(arg).__name__})")
                if arg.dtype != dtype:
                    raise TypeError(f"{self.name} argument {i} ({ctype}*): array of {arg.dtype}")
                if not arg.flags.c_contiguous:
                    raise TypeError(f"{self.name} argument {i}: not C-contiguous")
                pointers[i] = arg.data.ptr
                sizes[i] = arg.size
            else:
                if not isinstance(arg, np.generic) or arg.dtype != dtype:
                    raise TypeError(f"{self.name} argument {i} ({ctype}): got "
                                    f"{type(arg).__name__} {getattr(arg, 'dtype', '')}")
                box = np.array(arg)
                keep.append(box)
                pointers[i] = box.ctypes.data
        oob = self.lib.emu_launch(*[ctypes.c_uint(v) for v in grid3 + block3], pointers, sizes)
        if oob:
            raise RuntimeError(f"{self.name}: out-of-bounds memory access in the kernel")
