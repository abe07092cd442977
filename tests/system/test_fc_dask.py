"""`fcgraph fc` on Dask (issue 17): the same files as in-process, a killed worker, a killed
scheduler and a resume, a scheduler that does not answer, a worker that cannot see the run
folder, and no Dask import without a cluster. Real processes on 127.0.0.1: a
``distributed.LocalCluster``, or ``dask scheduler`` and ``dask worker`` started here."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fcgraph.analysis.synthetic import write_recording
from fcgraph.fc.run import compute_run
from tests.helpers.dask_cluster import (
    assert_same_files,
    can_hide_folders,
    env_with_repo,
    env_without_dask,
    free_port,
)

pytest.importorskip("distributed", reason="the Dask tests need dask[distributed] (the dask extra)")

pytestmark = [pytest.mark.slow]

#: Fields of a part JSON or the manifest that may differ between two runs of the same settings.
TIMING_FIELDS = frozenset({"seconds"})
SMALL = [("a", (4, 6, 6)), ("b", (8, 3, 3)), ("c", (20,))]
#: Layer pairs of about a second each (the scheduler is killed between two of them).
LARGER = [("a", (16, 6, 6)), ("b", (32, 3, 3)), ("c", (120,))]


def make_recording(root: Path, layers=SMALL, conditions=("clean", "uniform:0.1"), n_images: int = 80,
                   seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    T = 4
    spikes = {c: {name: rng.random((int(np.prod(shape)), T * n_images)) < 0.2
                  for name, shape in layers} for c in conditions}
    write_recording(root, "dask-test", layers, T, np.zeros(n_images, dtype=np.int64), spikes)
    return root


def assert_same_run(got: Path, want: Path) -> None:
    assert_same_files(got, want, TIMING_FIELDS)


def fcgraph_fc(*args: str, env: dict[str, str] | None = None, timeout: float = 300,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fcgraph", "fc", *args], env=env or env_with_repo(),
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def test_local_cluster_writes_the_same_files_as_in_process(tmp_path):
    want = make_recording(tmp_path / "inproc")
    got = make_recording(tmp_path / "dask")
    a = compute_run(want, backend="numpy")
    b = compute_run(got, backend="numpy", local_workers=2)
    assert not b.resumed.any() and len(b) == 4
    assert b.drop(columns="seconds").equals(a.drop(columns="seconds"))
    assert_same_run(got, want)
    again = compute_run(got, backend="numpy", local_workers=2)  # all resumed: no cluster started
    assert again.resumed.all()


def test_cli_local_workers(tmp_path):
    want = make_recording(tmp_path / "inproc")
    got = make_recording(tmp_path / "dask")
    compute_run(want, backend="numpy")
    done = fcgraph_fc(str(got), "--backend", "numpy", "--local-workers", "2", "--no-progress")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "units on the local Dask cluster of 2 worker(s) x 1 thread" in done.stdout
    assert done.stderr == ""  # Dask's own log lines stay off the terminal
    assert_same_run(got, want)




#: Four layers: a chain of three layer pairs whose middle layers b and c are each the post layer
#: of one pair and the pre layer of the next.
CHAIN = [("a", (4, 6, 6)), ("b", (8, 3, 3)), ("c", (20,)), ("d", (10,))]


def _relay_stats() -> dict[str, int]:  # run in each worker process (Client.run)
    from fcgraph.fc.feature_relay import worker_store

    return worker_store().stats()


def test_a_worker_hands_a_layers_features_to_the_next_pair(tmp_path, cluster):
    """One single-threaded worker runs each condition's chain in order: the exact null's
    features of b and c are computed once per condition (kept as a post layer, taken as a pre
    layer), as in-process, and every file is the in-process one."""
    from distributed import Client

    want = make_recording(tmp_path / "inproc", CHAIN)
    got = make_recording(tmp_path / "dask", CHAIN)
    a = compute_run(want, backend="numpy")
    assert a.attrs["features_reused"] == 4  # b and c, in both conditions
    cluster.add_worker()
    cluster.wait_for_workers(1)
    b = compute_run(got, backend="numpy", scheduler=cluster.address)
    assert b.attrs["features_reused"] == 4
    assert b.drop(columns="seconds").equals(a.drop(columns="seconds"))
    assert_same_run(got, want)
    with Client(cluster.address) as client:
        (stats,) = client.run(_relay_stats).values()
    # every pair asked for its pre layer's features; the first of each condition found none
    assert stats == {"hits": 4, "misses": 2, "kept": 6, "held": 2}


def test_two_workers_each_keep_a_chain(tmp_path):
    """Two workers and two conditions: each condition's chain goes to one worker (one that runs
    dry may take the other's last pair), the same files as in-process."""
    want = make_recording(tmp_path / "inproc", CHAIN)
    got = make_recording(tmp_path / "dask", CHAIN)
    a = compute_run(want, backend="numpy")
    b = compute_run(got, backend="numpy", local_workers=2)
    assert b.drop(columns="seconds").equals(a.drop(columns="seconds"))
    # a queue that runs dry takes only the second half of another's pairs left: pair 1 of each
    # condition always follows its pair 0 on one thread (the last pair may be taken)
    assert 2 <= b.attrs["features_reused"] <= 4
    assert_same_run(got, want)


@pytest.mark.faults
def test_in_process_fc_imports_no_dask(tmp_path):
    rec = make_recording(tmp_path / "rec")
    env = env_without_dask(tmp_path / "site")
    probe = subprocess.run([sys.executable, "-c", "import distributed"], env=env, capture_output=True,
                           text=True)
    assert probe.returncode != 0 and "blocked" in probe.stderr  # the block is in force
    done = fcgraph_fc(str(rec), "--no-progress", "--backend", "numpy", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "a -> b" in done.stdout
    # asking for a cluster without Dask installed: one line naming the extra
    refused = fcgraph_fc(str(rec), "--no-progress", "--local-workers", "2", "--restart", env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("error:") and len(refused.stderr.strip().splitlines()) == 1
    assert "fcgraph[dask]" in refused.stderr


@pytest.mark.faults
def test_a_worker_killed_mid_unit_and_the_run_completes(tmp_path, cluster):
    want = make_recording(tmp_path / "inproc")
    got = make_recording(tmp_path / "dask")
    compute_run(want, backend="numpy")
    # this worker SIGKILLs itself in its first layer pair, its table written and its summary not
    # (fcgraph.faults); without a nanny nothing restarts it, so the other worker does the rest
    doomed = cluster.add_worker("--no-nanny", FCGRAPH_FAULT_AT="fc.pair")
    cluster.add_worker()
    cluster.wait_for_workers(2)
    done = fcgraph_fc(str(got), "--backend", "numpy", "--scheduler", cluster.address)
    assert done.returncode == 0, done.stdout + done.stderr
    assert doomed.wait(timeout=30) == -signal.SIGKILL  # it did die mid-run
    assert "resumed" not in done.stdout
    # the progress (a log, not a terminal): every layer pair ends as done
    for task in ("clean a->b", "clean b->c", "uniform:0.1 a->b", "uniform:0.1 b->c"):
        assert f"{task}: done" in done.stderr, done.stderr
    assert_same_run(got, want)


def test_a_relative_run_folder_reaches_workers_that_run_elsewhere(tmp_path, cluster):
    """The workers' working folder is not the client's: the run folder travels as an absolute
    path."""
    want = make_recording(tmp_path / "inproc")
    make_recording(tmp_path / "dask")
    compute_run(want, backend="numpy")
    cluster.add_worker()
    cluster.wait_for_workers(1)
    done = fcgraph_fc("dask", "--backend", "numpy", "--no-progress", "--scheduler", cluster.address,
                      cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_same_run(tmp_path / "dask", want)


@pytest.mark.faults
def test_a_killed_scheduler_then_a_rerun_resumes(tmp_path, cluster):
    conditions = ("clean", "uniform:0.1", "uniform:0.2")
    want = make_recording(tmp_path / "inproc", LARGER, conditions, n_images=100)
    got = make_recording(tmp_path / "dask", LARGER, conditions, n_images=100)
    cluster.add_worker()
    cluster.wait_for_workers(1)
    fc = subprocess.Popen([sys.executable, "-m", "fcgraph", "fc", str(got), "--backend", "numpy",
                           "--no-progress", "--scheduler", cluster.address],
                          env=env_with_repo(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parts = got / "fc" / ".parts"
    deadline = time.monotonic() + 240
    while not list(parts.glob("*/000.json")) and fc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    cluster.scheduler.send_signal(signal.SIGKILL)  # one layer pair saved, more to come
    out, err = fc.communicate(timeout=120)
    cluster.stop()  # the worker may finish the pair it was on; nothing more
    assert fc.returncode == 1, out + err
    assert err.startswith("error: lost the Dask scheduler") and len(err.strip().splitlines()) == 1, err
    saved = {p: p.stat().st_mtime_ns for p in parts.glob("*/[0-9][0-9][0-9].json")}
    assert 1 <= len(saved) < 6
    compute_run(want, backend="numpy")
    summary = compute_run(got, backend="numpy")  # the rerun, in-process
    assert int(summary.resumed.sum()) == len(saved)
    assert {p: p.stat().st_mtime_ns for p in saved} == saved  # nothing done was recomputed
    assert_same_run(got, want)


def test_a_scheduler_that_does_not_answer_is_one_line(tmp_path):
    rec = make_recording(tmp_path / "rec")
    address = f"tcp://127.0.0.1:{free_port()}"
    t0 = time.monotonic()
    done = fcgraph_fc(str(rec), "--no-progress", "--scheduler", address, "--cluster-timeout", "2")
    assert time.monotonic() - t0 < 60
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: no Dask scheduler answers at {address} within 2 s")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    env = env_with_repo(DASK_SCHEDULER_ADDRESS=address)  # the environment's address
    done = fcgraph_fc(str(rec), "--no-progress", "--cluster-timeout", "2", env=env)
    assert done.returncode == 1 and address in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--scheduler", "tcp://127.0.0.1:1", "--local-workers", "2"],
     "error: --local-workers: give --scheduler (or DASK_SCHEDULER_ADDRESS) or --local-workers, not both"),
    (["--scheduler", "notanaddress"], "error: --scheduler: 'notanaddress': "),
])
def test_bad_cluster_options_are_usage_errors(tmp_path, args, message):
    rec = make_recording(tmp_path / "rec")
    done = fcgraph_fc(str(rec), "--no-progress", "--cluster-timeout", "2", *args)
    assert done.returncode == 2
    assert done.stderr.startswith(message) and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_scheduler_without_workers_is_one_line(tmp_path, cluster):
    rec = make_recording(tmp_path / "rec")
    done = fcgraph_fc(str(rec), "--no-progress", "--scheduler", cluster.address, "--cluster-timeout", "3")
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: the Dask scheduler at {cluster.address} has no worker after 3 s")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.faults
@pytest.mark.skipif(not can_hide_folders(), reason="needs unshare -rm (user and mount namespaces)")
def test_a_worker_that_cannot_see_the_run_folder_is_one_line(tmp_path, cluster):
    rec = make_recording(tmp_path / "rec")
    # this worker's view of the test folder is an empty tmpfs: the run folder is not shared
    hide = f'mount -t tmpfs none "{rec}" && exec "$0" "$@"'
    cluster.add_worker(prefix=("unshare", "-rm", "sh", "-c", hide))
    cluster.wait_for_workers(1)
    done = fcgraph_fc(str(rec), "--no-progress", "--scheduler", cluster.address)
    assert done.returncode == 1
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1, done.stderr
    assert line.startswith("error: Dask worker tcp://127.0.0.1:") and "cannot read" in line
    assert "must be on a filesystem every worker sees at the same path" in line
    assert not list((rec / "fc" / ".parts").glob("*/*.json"))  # no unit was sent


#: Units of post tiles: tiles of TILE tested post neurons, UNIT_TILES tiles per Dask task.
TILE, UNIT_TILES = 8, 2


def assert_split(rec: Path, min_units: int = 3) -> None:
    """Every layer pair of ``rec`` has at least ``min_units`` units of post tiles."""
    from fcgraph.fc.edges import count_tiles
    from fcgraph.record.reader import open_recording

    recording = open_recording(rec)
    for condition in recording.conditions:
        for layer in recording.layers[1:]:
            tested = int((recording.packed(condition, layer.name).spike_counts() >= 10).sum())
            assert count_tiles(tested, TILE) >= min_units * UNIT_TILES


@pytest.mark.parametrize("settings", [
    {},  # the default rule: exact null, control threshold
    {"null": "shift", "calibrate": True},
    {"threshold": "normal", "candidates": "receptive-field", "top_k": 3, "min_spikes": 45},
    {"fdr": 0.05},  # the FDR family spans a whole pair: a unit per pair
], ids=["exact-control", "shift-calibrate", "normal-rf-topk", "fdr-whole-pairs"])
def test_units_of_post_tiles_write_the_same_files(tmp_path, settings):
    want = make_recording(tmp_path / "inproc", LARGER, ("clean",), n_images=60)
    got = make_recording(tmp_path / "dask", LARGER, ("clean",), n_images=60)
    assert_split(got)
    a = compute_run(want, backend="numpy", tile=TILE, **settings)
    b = compute_run(got, backend="numpy", tile=TILE, local_workers=2, unit_tiles=UNIT_TILES,
                    **settings)
    assert b.drop(columns="seconds").equals(a.drop(columns="seconds"))
    assert (a.edges > 0).all() and (a.untested > 0).any() == ("min_spikes" in settings)
    assert_same_run(got, want)


def test_units_of_post_tiles_resume(tmp_path):
    want = make_recording(tmp_path / "inproc", LARGER, ("clean", "uniform:0.1"), n_images=60)
    got = make_recording(tmp_path / "dask", LARGER, ("clean", "uniform:0.1"), n_images=60)
    compute_run(want, backend="numpy", tile=TILE)

    def killed(condition: str, pre: str, post: str) -> None:
        raise KeyboardInterrupt  # the run stops once its first layer pair is saved

    with pytest.raises(KeyboardInterrupt):
        compute_run(got, backend="numpy", tile=TILE, local_workers=2, unit_tiles=UNIT_TILES,
                    after_pair=killed)
    saved = {p: p.stat().st_mtime_ns for p in (got / "fc" / ".parts").glob("*/[0-9][0-9][0-9].json")}
    assert len(saved) == 1
    again = compute_run(got, backend="numpy", tile=TILE, local_workers=2, unit_tiles=UNIT_TILES)
    assert int(again.resumed.sum()) == 1
    assert {p: p.stat().st_mtime_ns for p in saved} == saved  # the finished pair was not redone
    assert_same_run(got, want)  # no unit table is left behind


def test_cli_unit_tiles(tmp_path):
    want = make_recording(tmp_path / "inproc", LARGER, ("clean",), n_images=60)
    got = make_recording(tmp_path / "dask", LARGER, ("clean",), n_images=60)
    compute_run(want, backend="numpy", tile=TILE)
    done = fcgraph_fc(str(got), "--backend", "numpy", "--local-workers", "2", "--no-progress",
                      "--tile", str(TILE), "--unit-tiles", str(UNIT_TILES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert_same_run(got, want)
    bad = fcgraph_fc(str(got), "--no-progress", "--unit-tiles", "-1")
    assert bad.returncode == 2 and "--unit-tiles" in bad.stderr


@pytest.mark.faults
def test_a_worker_killed_mid_tile_unit_and_the_run_completes(tmp_path, cluster):
    want = make_recording(tmp_path / "inproc", LARGER, ("clean",), n_images=60)
    got = make_recording(tmp_path / "dask", LARGER, ("clean",), n_images=60)
    compute_run(want, backend="numpy", tile=TILE)
    # this worker SIGKILLs itself after writing its first unit's table, its result not returned
    doomed = cluster.add_worker("--no-nanny", FCGRAPH_FAULT_AT="fc.unit")
    cluster.add_worker()
    cluster.wait_for_workers(2)
    done = fcgraph_fc(str(got), "--backend", "numpy", "--no-progress", "--tile", str(TILE),
                      "--unit-tiles", str(UNIT_TILES), "--scheduler", cluster.address)
    assert done.returncode == 0, done.stdout + done.stderr
    assert doomed.wait(timeout=30) == -signal.SIGKILL  # it did die mid-run
    assert_same_run(got, want)
