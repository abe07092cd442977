"""`fcgraph record` on Dask (issue 17): the same files as in-process for every kind of condition,
a rerun that needs no cluster, a worker killed mid-chunk, a killed scheduler and a resume, no
Dask import in-process, a worker that cannot see the recording folder and one that loads another
checkpoint. Real processes on 127.0.0.1: a ``distributed.LocalCluster``, or ``dask scheduler``
and ``dask worker`` started here."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fcgraph.execution import Execution
from tests.helpers.dask_cluster import (
    assert_same_files,
    can_hide_folders,
    dashboard_port_taken,
    env_with_repo,
    env_without_dask,
)

pytest.importorskip("distributed", reason="the Dask tests need dask[distributed] (the dask extra)")
pytest.importorskip("torch", reason="recording runs the tiny model with torch")

pytestmark = [pytest.mark.slow, pytest.mark.torch]

N = 40
#: Noise, an attack, both weight controls and a kept epoch: every way a condition makes its
#: network and inputs.
CONDITIONS = ["clean", "uniform:0.2", "fgsm:0.05", "permute:layer", "untrained", "epoch:1"]
SETTINGS = {"batch_size": 8, "seed": 3, "run_id": "dask-rec", "command": "fcgraph record (test)"}
#: Images per chunk: chunks 0-16, 16-32, 32-40 (the last one shorter).
CHUNK = 16
#: Fields of a progress file or the manifest that differ between two recordings.
TIMING_FIELDS = frozenset({"seconds", "created"})


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fcgraph.models import TrainConfig, train

    folder = tmp_path_factory.mktemp("ck")
    train(TrainConfig(architecture="tiny", T=4, lr=0.02, batch_size=16, epochs=1, train_limit=256,
                      test_limit=16, keep_epochs=(1,)), folder)
    return folder


@pytest.fixture(scope="module")
def reference(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The in-process recording of :data:`CONDITIONS` (never written to)."""
    from fcgraph.record import record

    out = tmp_path_factory.mktemp("inproc") / "rec"
    record(checkpoint, out, CONDITIONS, N, **SETTINGS)
    return out


def assert_same_recording(got: Path, want: Path) -> None:
    assert_same_files(got, want, TIMING_FIELDS)


def test_local_cluster_records_the_same_files_as_in_process(checkpoint, reference, tmp_path):
    from fcgraph.record import record

    out = tmp_path / "rec"
    reports: list[tuple[str, int, int]] = []
    record(checkpoint, out, CONDITIONS, N, **SETTINGS, chunk_images=CHUNK,
           execution=Execution.create(local_workers=2), progress=lambda *r: reports.append(r))
    assert_same_recording(out, reference)  # and no part is left
    for condition in CONDITIONS:
        done = [d for c, d, _ in reports if c == condition]
        assert done[0] == 0 and done[-1] == N and done == sorted(done), (condition, done)
    # a rerun finds every condition complete: it starts no cluster (a scheduler that does not
    # exist would otherwise fail it)
    record(checkpoint, out, CONDITIONS, N, **SETTINGS, chunk_images=CHUNK,
           execution=Execution.create(scheduler="tcp://127.0.0.1:9", timeout=1))
    assert_same_recording(out, reference)


def fcgraph_record(checkpoint: Path, out: Path, *args: str, conditions=("clean", "untrained"),
                   env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "fcgraph", "record", str(checkpoint), "--out", str(out), "-n", str(N),
           *(a for c in conditions for a in ("-c", c)), "--batch-size", "8", "--seed", "3",
           "--run-id", "dask-rec", "--no-progress", *args]
    return subprocess.Popen(cmd, env=env or env_with_repo(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def spike_files(root: Path, conditions) -> dict[str, bytes]:
    from fcgraph.run_folder import condition_slug

    return {str(p.relative_to(root)): p.read_bytes() for c in conditions
            for p in sorted((root / "spikes" / condition_slug(c)).iterdir())}


def test_cli_local_workers(checkpoint, reference, tmp_path):
    with dashboard_port_taken():  # another cluster's dashboard: no warning about it either
        proc = fcgraph_record(checkpoint, tmp_path / "rec", "--local-workers", "2", "--chunk-images", "8")
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    assert err == ""  # Dask's own log lines stay off the terminal
    assert "untrained" in out and "on the local Dask cluster of 2 worker(s)" in out
    conditions = ("clean", "untrained")
    assert spike_files(tmp_path / "rec", conditions) == spike_files(reference, conditions)
    assert not (tmp_path / "rec" / ".record" / ".parts").exists()


@pytest.mark.faults
def test_a_worker_killed_mid_chunk_and_the_recording_completes(checkpoint, reference, tmp_path,
                                                               cluster):
    # the doomed worker SIGKILLs itself at its second batch (fcgraph.faults), in the middle of a
    # chunk; without a nanny nothing restarts it, so the other worker records the rest
    doomed = cluster.add_worker("--no-nanny", FCGRAPH_FAULT_AT="record.batch:2")
    cluster.add_worker()
    cluster.wait_for_workers(2)
    proc = fcgraph_record(checkpoint, tmp_path / "rec", "--scheduler", cluster.address,
                          "--chunk-images", "16", conditions=CONDITIONS)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    assert doomed.wait(timeout=30) == -signal.SIGKILL  # it did die mid-run
    assert spike_files(tmp_path / "rec", CONDITIONS) == spike_files(reference, CONDITIONS)
    assert not (tmp_path / "rec" / ".record" / ".parts").exists()


@pytest.mark.faults
def test_a_killed_scheduler_then_a_rerun_resumes(checkpoint, reference, tmp_path, cluster):
    from fcgraph.record import record
    from fcgraph.run_folder import condition_slug

    cluster.add_worker()
    cluster.wait_for_workers(1)
    out = tmp_path / "rec"
    proc = fcgraph_record(checkpoint, out, "--scheduler", cluster.address, "--chunk-images", "8",
                          conditions=CONDITIONS)
    parts = out / ".record" / ".parts"
    deadline = time.monotonic() + 240
    while not list(parts.glob("*/*.json")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    cluster.scheduler.send_signal(signal.SIGKILL)  # a chunk saved, more to come
    stdout, err = proc.communicate(timeout=120)
    cluster.stop()  # the worker may finish the chunk it was on; nothing more
    assert proc.returncode == 1, stdout + err
    assert err.startswith("error: lost the Dask scheduler") and len(err.strip().splitlines()) == 1, err
    saved = {c: len(list((parts / condition_slug(c)).glob("*.json"))) for c in CONDITIONS}
    assert 1 <= sum(saved.values()) < len(CONDITIONS) * N // 8
    reports: list[tuple[str, int, int]] = []
    record(checkpoint, out, CONDITIONS, N, **SETTINGS, chunk_images=8,
           progress=lambda *r: reports.append(r))  # the rerun, in-process
    for condition, k in saved.items():
        # the chunks saved are counted at once, then each chunk recorded now adds its 8 images
        # (the last report: its files assembled); nothing saved was recorded again
        done = [d for c, d, _ in reports if c == condition]
        assert done == [*range(8 * k, N + 1, 8), N], (condition, done)
    assert_same_recording(out, reference)  # and the parts are gone


def test_in_process_record_imports_no_dask(checkpoint, reference, tmp_path):
    env = env_without_dask(tmp_path / "site")
    proc = fcgraph_record(checkpoint, tmp_path / "rec", env=env)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    conditions = ("clean", "untrained")
    assert spike_files(tmp_path / "rec", conditions) == spike_files(reference, conditions)
    # asking for a cluster without Dask installed: one line naming the extra
    refused = fcgraph_record(checkpoint, tmp_path / "rec2", "--local-workers", "2", env=env)
    out, err = refused.communicate(timeout=300)
    assert refused.returncode == 1
    assert err.strip().startswith("error:") and len(err.strip().splitlines()) == 1, err
    assert "fcgraph[dask]" in err


@pytest.mark.faults
@pytest.mark.skipif(not can_hide_folders(), reason="needs unshare -rm (user and mount namespaces)")
def test_a_worker_that_cannot_see_the_recording_is_one_line(checkpoint, tmp_path, cluster):
    runs = tmp_path / "runs"
    runs.mkdir()
    hide = f'mount -t tmpfs none "{runs}" && exec "$0" "$@"'
    cluster.add_worker(prefix=("unshare", "-rm", "sh", "-c", hide))
    cluster.wait_for_workers(1)
    proc = fcgraph_record(checkpoint, runs / "rec", "--scheduler", cluster.address)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    line = err.strip()
    assert len(line.splitlines()) == 1, err
    assert line.startswith("error: Dask worker tcp://127.0.0.1:") and "cannot read" in line
    assert not (runs / "rec" / ".record" / ".parts").exists()  # no chunk was sent


@pytest.mark.faults
@pytest.mark.skipif(not can_hide_folders(), reason="needs unshare -rm (user and mount namespaces)")
def test_a_worker_with_another_checkpoint_is_one_line(checkpoint, tmp_path, cluster):
    import shutil

    import torch

    other = tmp_path / "other"
    shutil.copytree(checkpoint, other)
    weights = torch.load(other / "model.pt", weights_only=True)
    first = next(k for k, v in weights.items() if v.is_floating_point())
    weights[first] = weights[first] + 1
    torch.save(weights, other / "model.pt")
    swap = f'mount --bind "{other}" "{checkpoint}" && exec "$0" "$@"'  # the same path, other weights
    cluster.add_worker(prefix=("unshare", "-rm", "sh", "-c", swap))
    cluster.wait_for_workers(1)
    proc = fcgraph_record(checkpoint, tmp_path / "rec", "--scheduler", cluster.address)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    line = err.strip()
    assert len(line.splitlines()) == 1, err
    assert line.startswith("error: on Dask worker tcp://127.0.0.1:") and "model_sha256" in line, line
