"""The GPU check's Dask step (scripts/gpu_check.sh): ``fcgraph fc`` on CuPy, in-process and on
Dask workers sharing the GPU, must write the same files.

A small synthetic recording (three layers, two conditions) is computed by
:func:`fcgraph.fc.run.compute_run` on the ``cupy`` backend twice per comparison, each in
its own copy: in-process, then on a local cluster of two worker processes (``--local-workers
2``), both on the one GPU: once with a task per layer pair (the exact null, its features kept
by the worker that ran the pair before), once with a task per post tile (``unit_tiles=1``, the
shift null's fused kernels). Every file of the cluster's run must equal the in-process run's,
byte for byte, JSON files but for ``seconds`` (:func:`tests.helpers.dask_cluster.assert_same_files`,
as the Dask tests compare). With dask-cuda and two GPUs or more, the same again on
``--local-workers gpu`` (one worker per GPU; ``backend_detail``, the worker's GPU, may then
differ too); else the script says why it skips that.

Without Dask it prints "skipped: dask not installed" and succeeds (the device machine may lack
it); it needs no more of fcgraph's dependencies than gpu_check.sh's other steps (no SciPy).
Run from the repository root with the repository on ``PYTHONPATH``:

    python scripts/gpu_dask_check.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

#: The layers of the synthetic recording: (name, shape).
LAYERS = [("a", (8, 6, 6)), ("b", (16, 3, 3)), ("c", (40,))]
CONDITIONS = ("clean", "uniform:0.1")
#: Post neurons per block: several post tiles per layer pair, so that the tiles are spread.
TILE = 16
#: Fields of a part JSON or the manifest that may differ between the runs compared: timings,
#: and on dask-cuda workers the worker's GPU.
TIMING = frozenset({"seconds"})
GPU_DETAIL = TIMING | {"backend_detail"}
#: ``(name, settings, unit_tiles)`` of each comparison.
RUNS: list[tuple[str, dict[str, Any], int]] = [
    ("exact null, a task per layer pair", {}, 0),
    ("shift null, a task per post tile", {"null": "shift", "n_shifts": 20, "threshold": "normal"}, 1),
]


def synthetic() -> ModuleType:
    """:mod:`fcgraph.analysis.synthetic`, loaded from its file alone: ``fcgraph.analysis``
    imports SciPy, which the GPU machine may lack (this module needs only NumPy and pyarrow)."""
    import fcgraph

    name = "fcgraph_gpu_check_synthetic"
    if name not in sys.modules:
        path = Path(fcgraph.__file__).parent / "analysis" / "synthetic.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def make_recording(root: Path, seed: int = 0, n_images: int = 60, T: int = 4) -> Path:
    """A recording of :data:`LAYERS` and :data:`CONDITIONS`: independent spikes at rate 0.2."""
    write_recording = synthetic().write_recording
    rng = np.random.default_rng(seed)
    spikes = {c: {name: rng.random((int(np.prod(shape)), T * n_images)) < 0.2
                  for name, shape in LAYERS} for c in CONDITIONS}
    write_recording(root, "gpu-dask-check", LAYERS, T, np.zeros(n_images, dtype=np.int64), spikes)
    return root


def gpu_count() -> tuple[int, str]:
    """GPUs a dask-cuda cluster would start workers on, and why none when 0."""
    try:
        from dask_cuda.utils import get_n_gpus
    except ImportError:
        return 0, "dask-cuda not installed"
    try:
        return get_n_gpus(), ""
    except Exception as exc:  # NVML missing or failing
        return 0, f"NVML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


def compare(root: Path, name: str, settings: dict[str, Any], unit_tiles: int,
            local_workers: int | str) -> None:
    """In-process and on ``local_workers``, both on CuPy: the same files (module doc)."""
    from fcgraph.fc.run import compute_run
    from tests.helpers.dask_cluster import assert_same_files

    folder = root / f"{name.split(',')[0].replace(' ', '-')}-{local_workers}"
    want, got = make_recording(folder / "in-process"), make_recording(folder / "dask")
    t0 = time.perf_counter()
    a = compute_run(want, backend="cupy", tile=TILE, **settings)
    t1 = time.perf_counter()
    b = compute_run(got, backend="cupy", tile=TILE, local_workers=local_workers,
                    unit_tiles=unit_tiles, **settings)
    t2 = time.perf_counter()
    assert set(a.backend) == set(b.backend) == {"cupy"}, (set(a.backend), set(b.backend))
    assert int(a.edges.sum()) > 0, "no edge: the comparison would prove little"
    assert b.drop(columns="seconds").equals(a.drop(columns="seconds"))
    assert_same_files(got, want, GPU_DETAIL if local_workers == "gpu" else TIMING)
    print(f"{name}, --local-workers {local_workers}: {len(a)} layer pairs, "
          f"{int(a.edges.sum())} edges, every file the same (in-process {t1 - t0:.1f} s, "
          f"Dask {t2 - t1:.1f} s)")


def main() -> int:
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("skipped: dask not installed")
        return 0
    from fcgraph.fc.backend import cupy_status

    cupy, detail = cupy_status()
    if cupy is None:
        print(f"fcgraph cannot use CuPy here: {detail}")
        return 1
    with tempfile.TemporaryDirectory(prefix="fcgraph-gpu-dask-") as tmp:
        for name, settings, unit_tiles in RUNS:
            compare(Path(tmp), name, settings, unit_tiles, 2)
        gpus, why = gpu_count()
        if gpus < 2:
            print(f"--local-workers gpu skipped: {why or f'{gpus} GPU(s), needs 2 or more'}")
            return 0
        for name, settings, unit_tiles in RUNS:
            compare(Path(tmp), name, settings, unit_tiles, "gpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
