"""`fcgraph analyze` on Dask (issue 17): the same files as in-process, a resumed run that needs no
cluster, and a worker that cannot see the run folder. Real processes on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fcgraph.analysis import AnalysisConfig, analyze_run
from fcgraph.analysis.synthetic import make_planted_run, make_replicate_run
from fcgraph.execution import Execution
from tests.helpers.dask_cluster import can_hide_folders, dashboard_port_taken, env_with_repo, without_timings

pytest.importorskip("distributed", reason="the Dask tests need dask[distributed] (the dask extra)")

pytestmark = [pytest.mark.slow]

FAST = AnalysisConfig(n_boot=20, n_shuffle=1)
SIZES = tuple(range(8, 32, 4))
#: Fields of analysis.json that differ between two runs of the same analysis.
TIMING_FIELDS = frozenset({"created", "seconds"})


def planted_run(root: Path) -> tuple[Path, Path]:
    """(a planted run with a perturbation, a floor and a control network, a replicate run):
    every kind of unit (condition, false-edge rate, control network, replicate)."""
    import numpy as np

    make_planted_run(root / "run", n_images=200, sizes=SIZES, floor=True, seed=0)
    labels = np.load(root / "run" / "labels.npy")
    make_replicate_run(root / "rep", labels, run_id="rep", n_images=200, sizes=SIZES, seed=7)
    return root / "run", root / "rep"


def analysis_files(root: Path) -> dict[str, object]:
    """Every file under ``root/analysis``: JSON parsed (less its timings), others as bytes."""
    out: dict[str, object] = {}
    for path in sorted((root / "analysis").rglob("*")):
        if path.is_file():
            rel = str(path.relative_to(root))
            if path.suffix == ".json":
                out[rel] = without_timings(json.loads(path.read_text()), TIMING_FIELDS)
            else:
                out[rel] = path.read_bytes()
    return out


def parts(root: Path) -> list[Path]:
    return sorted((root / "analysis" / ".parts").rglob("*.json"))


def test_local_cluster_writes_the_same_files_as_in_process(tmp_path):
    run, rep = planted_run(tmp_path)
    want = analyze_run(run, FAST, replicates=[rep], figures=False)
    reference = analysis_files(run)
    n_parts = len(parts(run))
    # conditions (clean, 2 noise, control) + rate + 2 networks + 3 networks' principles + the
    # edges' jackknife replicates (clean, 2 noise, 2 networks)
    assert n_parts == 4 + 1 + 2 + 3 + 5
    shutil.rmtree(run / "analysis")
    got = analyze_run(run, FAST, replicates=[rep], figures=False,
                      execution=Execution.create(local_workers=2))
    assert without_timings(got, TIMING_FIELDS) == without_timings(want, TIMING_FIELDS)
    assert analysis_files(run) == reference
    # a rerun finds every part done: it starts no cluster (a scheduler that does not exist
    # would otherwise fail it) and gives the same answer
    again = analyze_run(run, FAST, replicates=[rep], figures=False,
                        execution=Execution.create(scheduler="tcp://127.0.0.1:9", timeout=1))
    assert without_timings(again, TIMING_FIELDS) == without_timings(want, TIMING_FIELDS)


def fcgraph_analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fcgraph", "analyze", *args], env=env_with_repo(),
                          capture_output=True, text=True, timeout=300)


def test_cli_local_workers(tmp_path):
    run, _ = planted_run(tmp_path)
    with dashboard_port_taken():  # another cluster's dashboard: no warning about it either
        done = fcgraph_analyze(str(run), "--n-boot", "20", "--no-report", "--no-progress",
                               "--local-workers", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # Dask's own log lines stay off the terminal
    # conditions + rate + control network + 2 principles + jackknife replicates (clean, 2 noise,
    # control network)
    assert len(parts(run)) == 4 + 1 + 1 + 2 + 4 and "supported" in done.stdout


@pytest.mark.faults
@pytest.mark.skipif(not can_hide_folders(), reason="needs unshare -rm (user and mount namespaces)")
def test_a_worker_that_cannot_see_the_run_folder_is_one_line(tmp_path, cluster):
    run, _ = planted_run(tmp_path)
    hide = f'mount -t tmpfs none "{run}" && exec "$0" "$@"'
    cluster.add_worker(prefix=("unshare", "-rm", "sh", "-c", hide))
    cluster.wait_for_workers(1)
    done = fcgraph_analyze(str(run), "--no-report", "--no-progress", "--scheduler",
                           cluster.address)
    assert done.returncode == 1
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1, done.stderr
    assert line.startswith("error: Dask worker tcp://127.0.0.1:") and "cannot read" in line
    assert not parts(run)  # no unit was sent
