"""GPU Dask workers (issue 17): ``--local-workers gpu`` read by :meth:`Execution.create`, and
what ``fcgraph fc`` says in one line where it cannot run them (no CuPy, no dask-cuda, no GPU, a
backend other than CuPy, a worker whose CuPy is unusable). Real processes; CuPy is the CPU
stand-in of ``tests/cuda_emulator`` where a usable one is needed. The runs on GPU workers
themselves are scripts/gpu_dask_check.py's (run by scripts/gpu_check.sh); here, that its
comparison holds for workers on CuPy and fails for workers on NumPy."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fcgraph.errors import BadArgument
from fcgraph.execution import GPU_WORKERS, Execution
from tests.helpers.dask_cluster import ROOT, env_with_repo, env_without

EMULATOR = ROOT / "tests" / "cuda_emulator"
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="the emulator needs g++")


@pytest.mark.parametrize(("given", "workers", "where"), [
    ("gpu", GPU_WORKERS, "local dask-cuda cluster, one worker per GPU"),
    (" GPU ", GPU_WORKERS, "local dask-cuda cluster, one worker per GPU"),
    ("2", 2, "local Dask cluster of 2 worker(s) x 1 thread"),
    (2, 2, "local Dask cluster of 2 worker(s) x 1 thread"),
    ("0", 0, "in-process"),
    (0, 0, "in-process"),
])
def test_local_workers_are_a_count_or_gpu(given, workers, where):
    execution = Execution.create(local_workers=given)
    assert execution.local_workers == workers and type(execution.local_workers) is type(workers)
    assert execution.gpu_workers == (workers == GPU_WORKERS)
    assert execution.distributed == bool(workers)
    assert execution.describe() == where


@pytest.mark.parametrize(("given", "problem"), [
    ("-1", "-1 is not a whole number >= 0"),
    (-1, "-1 is not a whole number >= 0"),
    ("gpus", "'gpus' is neither a number of workers nor 'gpu' (one worker per GPU)"),
    ("2.5", "'2.5' is neither a number of workers nor 'gpu' (one worker per GPU)"),
    ("", "'' is neither a number of workers nor 'gpu' (one worker per GPU)"),
])
def test_other_local_workers_are_refused_in_one_line(given, problem):
    with pytest.raises(BadArgument) as refused:
        Execution.create(local_workers=given)
    assert str(refused.value) == f"--local-workers: {problem}"


def test_gpu_workers_and_a_scheduler_are_refused():
    with pytest.raises(BadArgument, match="give --scheduler .* or --local-workers, not both"):
        Execution.create("tcp://127.0.0.1:8786", GPU_WORKERS)


# -- `fcgraph fc --local-workers gpu` where it cannot run ---------------------------------------


def make_recording(root: Path) -> Path:
    from tests.system.test_fc_dask import make_recording as small_recording

    return small_recording(root)


def fcgraph_fc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fcgraph", "fc", *args, "--no-progress"], env=env,
                          capture_output=True, text=True, timeout=300)


def with_emulator(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the CPU stand-in for CuPy first on the path."""
    return {**env, "PYTHONPATH": os.pathsep.join([str(EMULATOR), env["PYTHONPATH"]])}


def assert_one_line(done: subprocess.CompletedProcess[str], code: int, line: str) -> None:
    assert done.returncode == code, done.stdout + done.stderr
    assert done.stderr == f"error: {line}\n", done.stderr
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.slow
def test_gpu_workers_without_cupy_is_one_line(tmp_path):
    rec = make_recording(tmp_path / "rec")
    done = fcgraph_fc(str(rec), "--local-workers", "gpu", env=env_without(tmp_path / "site", "cupy"))
    assert_one_line(done, 1, "--local-workers gpu: backend cupy asked for, but CuPy is not installed")
    assert not (rec / "fc").exists()  # refused before anything is written


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_gpu_workers_refuse_another_backend_than_cupy(tmp_path, backend):
    rec = make_recording(tmp_path / "rec")
    done = fcgraph_fc(str(rec), "--local-workers", "gpu", "--backend", backend, env=env_with_repo())
    assert_one_line(done, 2, f"--backend: {backend} on GPU workers: --local-workers gpu runs fc on "
                             "CuPy (give --backend cupy or auto)")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["auto", "cupy"])
@pytest.mark.gxx
@needs_gxx
def test_gpu_workers_without_dask_cuda_or_a_gpu_is_one_line(tmp_path, backend):
    """CuPy usable here (the emulator), so the cluster is what fails: dask-cuda missing, or
    NVML finding no GPU."""
    pytest.importorskip("distributed", reason="needs dask[distributed]")
    if importlib.util.find_spec("dask_cuda") is None:
        want = "--local-workers gpu needs dask-cuda: pip install 'fcgraph[dask-gpu]'"
    else:
        from dask_cuda.utils import get_n_gpus

        try:
            if get_n_gpus():
                pytest.skip("this machine has a GPU: dask-cuda would start its workers")
        except Exception:  # NVML missing: the case under test
            pass
        want = "--local-workers gpu: no GPU found"
    rec = make_recording(tmp_path / "rec")
    done = fcgraph_fc(str(rec), "--local-workers", "gpu", "--backend", backend,
                      env=with_emulator(env_with_repo()))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: {want}"), done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.slow
@pytest.mark.gxx
@needs_gxx
def test_a_worker_whose_cupy_is_unusable_is_one_line(tmp_path, cluster):
    """The client can use CuPy (the emulator), its only worker cannot (CuPy blocked there): the
    first unit fails on that worker, in one line naming it."""
    pytest.importorskip("distributed", reason="needs dask[distributed]")
    blocked = env_without(tmp_path / "site", "cupy")
    cluster.add_worker(PYTHONPATH=blocked["PYTHONPATH"])
    cluster.wait_for_workers(1)
    rec = make_recording(tmp_path / "rec")
    done = fcgraph_fc(str(rec), "--scheduler", cluster.address, "--backend", "cupy",
                      env=with_emulator(env_with_repo()))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("backend: cupy (GPU 0: CPU emulator (not a GPU)); units on the "
                                  f"Dask scheduler at {cluster.address}"), done.stdout
    line = done.stderr.strip()
    assert line.startswith("error: on Dask worker tcp://127.0.0.1:"), done.stderr
    assert line.endswith(": backend cupy asked for, but CuPy is not installed"), done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


# -- the Dask step of scripts/gpu_check.sh --------------------------------------------------------

#: In-process on CuPy, then on two local workers on ``backend``, compared as the step compares.
STEP_AGAINST_WORKERS_ON = """
import sys
sys.path.insert(0, "scripts")
from pathlib import Path
import gpu_dask_check as step
from fcgraph.fc.run import compute_run
from tests.helpers.dask_cluster import assert_same_files

root = Path(sys.argv[1])
want, got = step.make_recording(root / "in-process"), step.make_recording(root / "dask")
compute_run(want, backend="cupy", tile=step.TILE)
compute_run(got, backend=sys.argv[2], tile=step.TILE, local_workers=2)
try:
    assert_same_files(got, want, step.TIMING)
except AssertionError as exc:
    print("differ:", exc)
else:
    print("same")
"""


@pytest.mark.slow
@pytest.mark.gxx
@needs_gxx
@pytest.mark.parametrize(("backend", "verdict"), [("cupy", "same"), ("numpy", "differ: ")])
def test_the_dask_step_tells_workers_on_another_backend(tmp_path, backend, verdict):
    """The step's comparison holds for workers on CuPy and fails for workers that ran on NumPy
    (the same edges: only the summaries say so)."""
    pytest.importorskip("distributed", reason="needs dask[distributed]")
    done = subprocess.run([sys.executable, "-c", STEP_AGAINST_WORKERS_ON, str(tmp_path), backend],
                          cwd=ROOT, env=with_emulator(env_with_repo()), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(verdict), done.stdout
    if backend == "numpy":  # a part summary or the manifest: the edge tables are the same
        assert ".json" in done.stdout, done.stdout
