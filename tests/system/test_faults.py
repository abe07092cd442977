"""Fault injection: a new user's accidents, against the real commands, files and Neo4j.

Each stage is killed with SIGKILL at several commit points (``FCGRAPH_FAULT_AT``, see
fcgraph/faults.py), one kill per run of the real command, then run once more; the result must
equal, file by file (or node by node), an uninterrupted reference run of the same command, with
no temp or partial file left and no finished part recomputed. Also: two ingests of one run at
once, a full disk under the run folder, and a run folder copied from another machine.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import neo4j
import pyarrow.parquet as pq
import pytest

from fcgraph.analysis import units as analysis_units
from fcgraph.contract import read_manifest
from fcgraph.graph.connection import Graph
from fcgraph.graph.ingest import run_lock
from tests.helpers.cli import FcgraphCli, invoke
from tests.helpers.graph import graph_dump
from tests.helpers.tiny import INGEST, TinyRun

pytestmark = pytest.mark.faults

KILLED = -signal.SIGKILL
#: Keys whose values legitimately differ between two runs of a command (timings, dates, argv).
VOLATILE = frozenset({"seconds", "created", "command"})


# -- comparing folders ---------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files(root: Path) -> list[str]:
    """Every file under ``root``, hidden ones included, as sorted relative paths."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def drop_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [drop_volatile(v) for v in value]
    return value


def json_content(path: Path, root: Path) -> Any:
    """A JSON file's content with the folder's own path written ``<RUN>`` and VOLATILE keys dropped."""
    return drop_volatile(json.loads(path.read_text().replace(str(root), "<RUN>")))


def assert_same_results(got: Path, ref: Path) -> None:
    """``got`` holds exactly the files of ``ref`` (so no temp or partial file), each with the same
    bytes; JSON files the same content but for VOLATILE keys; SVG figures (dated) by name only."""
    assert files(got) == files(ref)
    for rel in files(ref):
        if rel.endswith(".json"):
            assert json_content(got / rel, got) == json_content(ref / rel, ref), rel
        elif not rel.endswith(".svg"):
            assert sha256(got / rel) == sha256(ref / rel), rel


def junk(root: Path) -> list[str]:
    return [rel for rel in files(root) if rel.endswith((".tmp", ".partial"))]


def stamps(root: Path, pattern: str) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of the files matching ``pattern``: unchanged means not rewritten."""
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(root.glob(pattern))}


def kill(fcgraph_cli: FcgraphCli, args: list[str], fault: str, env: dict[str, str] | None = None
         ) -> None:
    done = fcgraph_cli(*args, fault=fault, env=env)
    assert done.returncode == KILLED, f"not killed at {fault}: {done.returncode}\n{done.stderr}"


def finish(fcgraph_cli: FcgraphCli, args: list[str], env: dict[str, str] | None = None) -> str:
    done = fcgraph_cli(*args, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- SIGKILL of each stage, then a rerun ------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_record_at_each_commit_point_then_rerun(tiny_run, fcgraph_cli, tmp_path):
    out = tmp_path / "rec"
    args = tiny_run.record_args(out)  # 4 batches of 8 images per condition, each flushed
    kill(fcgraph_cli, args, "write/plan.json")
    assert not (out / ".record" / "plan.json").exists() and junk(out)
    kill(fcgraph_cli, args, "record.flush:3")  # 3 batches in the files, 2 of them saved
    assert json.loads((out / ".record" / "clean.json").read_text())["done"] == 16
    assert not list(out.glob("spikes/clean/*.bits"))
    kill(fcgraph_cli, args, "record.batch:3")  # resumed at image 16: clean's 3rd and 4th batch
    clean = stamps(out, "spikes/clean/*")  # complete, so the 3rd hit was uniform's 1st batch
    assert len(clean) == 7 and json.loads((out / ".record" / "clean.json").read_text())["complete"]
    kill(fcgraph_cli, args, "record.finish:2")  # uniform: 2 of its 7 files renamed
    assert len(list(out.glob("spikes/uniform_0.2/*.bits"))) == 2
    assert not (out / "manifest.json").exists()
    finish(fcgraph_cli, args)
    assert_same_results(out, tiny_run.rec)
    assert stamps(out, "spikes/clean/*") == clean  # the finished condition was not recorded again


@pytest.mark.slow
def test_sigkill_fc_at_each_commit_point_then_rerun(tiny_run, fcgraph_cli, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run.rec, folder)
    args = tiny_run.fc_args(folder)  # 5 layer pairs x 2 conditions
    parts = folder / "fc" / ".parts"
    kill(fcgraph_cli, args, "fc.pair:2")  # the 2nd pair's table written, its JSON not
    assert (parts / "clean" / "001.parquet").exists() and not (parts / "clean" / "001.json").exists()
    first = stamps(parts, "clean/000.json")
    kill(fcgraph_cli, args, "fc.assembled")  # clean assembled, its part tables not yet removed
    assert (folder / "fc" / "edges" / "clean.parquet").exists() and list(parts.glob("clean/*.parquet"))
    kill(fcgraph_cli, args, "write/manifest.json")  # uniform computed; the manifest not updated
    assert (folder / "fc" / "edges" / "uniform_0.2.parquet").exists()
    assert not list(parts.glob("*/*.parquet")) and "edges" not in read_manifest(folder).fc
    out = finish(fcgraph_cli, args)
    assert "10 of 10 layer pairs were finished by an earlier run and not recomputed" in out
    assert_same_results(folder, tiny_run.fc)
    assert stamps(parts, "clean/000.json") == first


@pytest.mark.slow
def test_sigkill_analyze_at_each_commit_point_then_rerun(tiny_run, fcgraph_cli, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run.fc, folder)
    # 5 layer pairs x (2 conditions + false edges + the trained network's principles + the
    # image-block jackknife of each condition's edges): 30 parts
    args = tiny_run.analyze_args(folder)
    parts = folder / "analysis" / ".parts"
    kill(fcgraph_cli, args, "analyze.part:3")
    first = stamps(parts, "**/*.json")
    assert len(first) == 3
    kill(fcgraph_cli, args, "write/analysis.json")  # every part, the table and figures written
    assert len(stamps(parts, "**/*.json")) == 30
    assert (folder / "analysis" / "neurons.parquet").exists()
    assert not (folder / "analysis" / "analysis.json").exists() and junk(folder)
    finish(fcgraph_cli, args)
    assert_same_results(folder, tiny_run.full)
    assert {k: v for k, v in stamps(parts, "**/*.json").items() if k in first} == first


def count(driver: neo4j.Driver, query: str, **params: Any) -> int:
    return driver.execute_query(query, params).records[0][0]


def fc_edges(driver: neo4j.Driver, run_id: str) -> int:
    return count(driver, "MATCH (:Neuron {run_id: $r})-[e:FC]->() RETURN count(e)", r=run_id)


def live_edges(driver: neo4j.Driver, run_id: str, condition: str) -> int:
    return count(driver, "MATCH (c:Condition {run_id: $r, name: $c}) "
                         "MATCH (:Neuron {run_id: $r})-[e:FC {condition: $c}]->() "
                         "WHERE e.gen = c.gen RETURN count(e)", r=run_id, c=condition)


def batch_marks(driver: neo4j.Driver, run_id: str) -> int:
    return count(driver, "MATCH (b:IngestBatch) WHERE b.load STARTS WITH $p RETURN count(b)",
                 p=f"{run_id}/")


def assert_exact_graph(graph: Graph, run: TinyRun, reference: dict,
                       source: Path | None = None) -> None:
    """The graph holds the run's every table row once, live, and nothing else of it; loaded from
    ``source`` (default: the reference folder), which the run node names (``Run.source``)."""
    manifest = read_manifest(run.full)
    rows = {c: pq.ParquetFile(p).metadata.num_rows for c, p in manifest.edge_files(run.full).items()}
    assert {c: live_edges(graph.driver, run.run_id, c) for c in rows} == rows
    assert fc_edges(graph.driver, run.run_id) == sum(rows.values())
    assert batch_marks(graph.driver, run.run_id) == 0
    dump = graph_dump(graph, run.run_id)
    if source is not None:  # the same graph, but for the folder it was loaded from
        here, there = (f'"source": {json.dumps(str(p.resolve()))}' for p in (source, run.full))
        assert sum(here in node for node in dump["nodes"]) == 1
        dump["nodes"] = sorted(node.replace(here, there) for node in dump["nodes"])
    assert dump == reference


def actions(stdout: str) -> list[str]:
    """The action column of `fcgraph ingest`'s table, per condition row."""
    return [word for line in stdout.splitlines() for word in line.split()
            if word in ("loaded", "resumed", "replaced", "unchanged")]


@pytest.mark.neo4j
@pytest.mark.slow
def test_sigkill_ingest_at_each_commit_point_then_rerun(driver, graph, tiny_run, fcgraph_cli, neo4j_env,
                                                        reference_dump, empty_graph):
    args = ["ingest", str(tiny_run.full), *INGEST]
    run_id = tiny_run.run_id
    kill(fcgraph_cli, args, "ingest.neurons", neo4j_env)  # neuron nodes in, not yet marked done
    assert count(driver, "MATCH (n:Neuron {run_id: $r}) RETURN count(n)", r=run_id) > 0
    assert fc_edges(driver, run_id) == 0
    kill(fcgraph_cli, args, "ingest.batch:4", neo4j_env)  # 4 of clean's 10 batches committed
    assert fc_edges(driver, run_id) == 400 and live_edges(driver, run_id, "clean") == 0
    kill(fcgraph_cli, args, "ingest.switched", neo4j_env)  # clean live, its batch marks left
    assert batch_marks(driver, run_id) > 0
    assert actions(finish(fcgraph_cli, args, neo4j_env)) == ["unchanged", "loaded"]
    assert_exact_graph(graph, tiny_run, reference_dump)


# -- two ingests of one run at once --------------------------------------------------------------


@pytest.mark.neo4j
@pytest.mark.slow
def test_two_ingests_of_one_run_at_once(graph, tiny_run, fcgraph_cli, neo4j_env, reference_dump,
                                        empty_graph):
    args = ["ingest", str(tiny_run.full), *INGEST]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: fcgraph_cli(*args, env=neo4j_env), range(2)))
    assert [d.returncode for d in done] == [0, 0], [d.stderr for d in done]
    # one loads, the other waits for the run's lock and then finds the work done
    assert sorted(actions(d.stdout) for d in done) == [["loaded", "loaded"],
                                                       ["unchanged", "unchanged"]]
    assert_exact_graph(graph, tiny_run, reference_dump)


@pytest.mark.neo4j
@pytest.mark.slow
def test_an_ingest_waits_while_another_holds_the_run(driver, graph, neo4j_conn, tiny_run, fcgraph_cli,
                                                     neo4j_env, reference_dump, empty_graph,
                                                     tmp_path):
    log = tmp_path / "stderr.txt"
    with run_lock(graph, tiny_run.run_id), log.open("w") as err:
        proc = fcgraph_cli.start("ingest", str(tiny_run.full), *INGEST, env=neo4j_env,
                                 stdout=subprocess.PIPE, stderr=err)
        deadline = time.monotonic() + 120
        while "waiting for another ingest" not in log.read_text() and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None and fc_edges(driver, tiny_run.run_id) == 0, log.read_text()
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and actions(stdout) == ["loaded", "loaded"], log.read_text()
    assert log.read_text().strip() == (f"waiting for another ingest or delete of run "
                                       f"{tiny_run.run_id!r} to finish")
    assert_exact_graph(graph, tiny_run, reference_dump)


# -- a full disk under the run folder --------------------------------------------------------------


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


class SmallDisk:
    """A folder with little space: a tmpfs mounted on it where this process may mount one (root),
    else a simulated quota: ``os.posix_fallocate`` and ``os.fsync`` of a file under it fail with
    ENOSPC while the files under it would exceed the size (Linux: files named by /proc/self/fd)."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        self.size = 0
        path.mkdir()
        self.mounted = can_mount() and self._mount("size=64m") == 0
        if not self.mounted:
            if not Path("/proc/self/fd").is_dir():
                pytest.skip("neither a tmpfs nor /proc/self/fd to simulate a full disk")
            self._simulate(monkeypatch)

    def _mount(self, options: str, *extra: str) -> int:
        return subprocess.run(["mount", "-t", "tmpfs", "-o", options, *extra, "tmpfs", str(self.path)],
                              capture_output=True).returncode

    def used(self) -> int:
        if self.mounted:
            st = os.statvfs(self.path)
            return (st.f_blocks - st.f_bfree) * st.f_frsize
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def resize(self, size: int) -> None:
        """Give the folder ``size`` bytes in all (rounded up to whole pages)."""
        self.size = -(-size // 4096) * 4096
        if self.mounted:
            assert self._mount(f"remount,size={self.size}") == 0

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=True)

    def _simulate(self, monkeypatch: pytest.MonkeyPatch) -> None:
        fallocate, fsync = os.posix_fallocate, os.fsync

        def over(fd: int, extra: int = 0) -> bool:
            path = Path(os.readlink(f"/proc/self/fd/{fd}"))
            return self.path in path.parents and self.used() + extra > self.size > 0

        def full_fallocate(fd: int, offset: int, length: int) -> None:
            if over(fd, max(0, offset + length - os.fstat(fd).st_size)):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            fallocate(fd, offset, length)

        def full_fsync(fd: int) -> None:
            if over(fd):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            fsync(fd)

        monkeypatch.setattr(os, "posix_fallocate", full_fallocate)
        monkeypatch.setattr(os, "fsync", full_fsync)


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallDisk]:
    disk = SmallDisk(tmp_path / "disk", monkeypatch)
    yield disk
    disk.close()


def assert_one_line_error(args: list[str], folder: Path, *reasons: str) -> None:
    """The command fails (exit 1) with one line on stderr naming ``folder`` and one of ``reasons``."""
    lines = invoke(args, exit_code=1).stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {folder}: "), lines
    assert any(reason in lines[0] for reason in reasons), lines


def progress(folder: Path, slug: str) -> dict[str, Any]:
    """A condition's saved recording progress ({} when none)."""
    path = folder / ".record" / f"{slug}.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.mark.slow
def test_record_into_a_full_folder_then_with_space(tiny_run, small_disk):
    out = small_disk.path / "rec"
    small_disk.resize(256 << 10)  # room for the clean condition (165 kB), not for uniform too
    assert_one_line_error(tiny_run.record_args(out), out, "no space left on device")
    clean = stamps(out, "spikes/clean/*")
    assert sorted(Path(rel).name for rel in clean) == files(tiny_run.rec / "spikes" / "clean")
    assert progress(out, "clean")["complete"]
    assert not list(out.glob("spikes/uniform_0.2/*.bits"))  # nothing under a final name
    assert not progress(out, "uniform_0.2").get("complete")
    assert not (out / "manifest.json").exists() and not any(p.endswith(".tmp") for p in files(out))
    small_disk.resize(4 << 20)
    invoke(tiny_run.record_args(out))
    assert_same_results(out, tiny_run.rec)
    assert stamps(out, "spikes/clean/*") == clean


@pytest.mark.slow
def test_fc_in_a_full_folder_then_with_space(tiny_run, small_disk):
    folder = small_disk.path / "run"
    shutil.copytree(tiny_run.rec, folder)
    fc_bytes = sum(p.stat().st_size for p in (tiny_run.fc / "fc").rglob("*") if p.is_file())
    small_disk.resize(small_disk.used() + fc_bytes // 3)  # room for part of the fc output
    assert_one_line_error(tiny_run.fc_args(folder), folder, "no space left on device")
    assert not any(p.endswith(".tmp") for p in files(folder))
    finished = list(folder.glob("fc/.parts/*/0*.json"))
    assert 0 < len(finished) < 10 and "edges" not in read_manifest(folder).fc
    small_disk.resize(small_disk.used() + (4 << 20))
    out = invoke(tiny_run.fc_args(folder)).stdout
    assert f"{len(finished)} of 10 layer pairs were finished by an earlier run" in out
    assert_same_results(folder, tiny_run.fc)


# -- a run folder copied from another machine ------------------------------------------------------


def absolute_paths(value: Any, where: str = "") -> Iterator[str]:
    """Where (a key path) a JSON value holds an absolute file path."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from absolute_paths(sub, f"{where}/{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from absolute_paths(sub, f"{where}/{i}")
    elif isinstance(value, str) and value.startswith("/"):
        yield where


def copy_as_from_another_machine(src: Path, dst: Path) -> None:
    """Copy without keeping times (like scp), owned by another user where we may chown (root),
    every file read-only."""
    shutil.copytree(src, dst, copy_function=shutil.copyfile)
    later = time.time() + 3600
    for path in [dst, *dst.rglob("*")]:
        os.utime(path, (later, later))
        if os.geteuid() == 0:
            os.chown(path, 12345, 12345)
        if path.is_file():
            path.chmod(0o444)


@pytest.mark.neo4j
@pytest.mark.slow
def test_a_run_folder_copied_from_another_machine(tiny_run, tmp_path, graph, neo4j_env,
                                                  reference_dump, empty_graph, monkeypatch):
    copy = tmp_path / "elsewhere" / "run"
    copy_as_from_another_machine(tiny_run.full, copy)
    for path in copy.rglob("*.json"):  # the original's paths are provenance, never used
        assert all("provenance" in key for key in absolute_paths(json.loads(path.read_text()))), path
    invoke(["ingest", str(copy), *INGEST], env=neo4j_env)
    assert_exact_graph(graph, tiny_run, reference_dump, source=copy)
    pre, post = (la.name for la in read_manifest(copy).layers[:2])
    view = tmp_path / "view.html"
    invoke(["view", tiny_run.run_id, "--layer-pair", pre, post, "--out", str(view)], env=neo4j_env)
    assert view.stat().st_size > 0
    spikes = stamps(copy, "spikes/*/*")
    invoke(tiny_run.record_args(copy))  # every condition is found complete
    assert stamps(copy, "spikes/*/*") == spikes
    out = invoke(tiny_run.fc_args(copy)).stdout
    assert "10 of 10 layer pairs were finished by an earlier run and not recomputed" in out
    monkeypatch.setattr(analysis_units, "analyse_pair", refuse_to_recompute)
    invoke(tiny_run.analyze_args(copy))
    monkeypatch.undo()
    assert_same_results(copy, tiny_run.full)


def refuse_to_recompute(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("a finished analysis part was recomputed")


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Make a folder read-only to this process: a read-only bind mount as root (who ignores file
    modes), else every mode without write bits."""
    mounted: list[Path] = []

    def make(folder: Path) -> None:
        if os.geteuid() != 0:
            for path in [folder, *folder.rglob("*")]:
                path.chmod(path.stat().st_mode & ~0o222)
            return
        if not can_mount() or subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(folder)],
                                             capture_output=True).returncode:
            pytest.skip("root (who ignores file modes), and no read-only bind mount here")
        mounted.append(folder)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.mark.neo4j
@pytest.mark.slow
def test_a_read_only_run_folder(tiny_run, tmp_path, graph, neo4j_env, reference_dump, empty_graph,
                                read_only):
    folder = tmp_path / "run"
    shutil.copytree(tiny_run.full, folder)
    read_only(folder)
    before = {rel: sha256(folder / rel) for rel in files(folder)}
    invoke(["ingest", str(folder), *INGEST], env=neo4j_env)  # reading is all it needs
    assert_exact_graph(graph, tiny_run, reference_dump, source=folder)
    for args in (tiny_run.fc_args(folder), tiny_run.analyze_args(folder),
                 tiny_run.record_args(folder)):
        assert_one_line_error(args, folder, "permission denied", "read-only file system")
    assert {rel: sha256(folder / rel) for rel in files(folder)} == before
