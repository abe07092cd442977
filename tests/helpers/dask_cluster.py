"""Dask processes for the tests: ``dask scheduler`` and ``dask worker`` on 127.0.0.1 running this
checkout's fcgraph (:class:`Cluster`, the ``cluster`` fixture's), and what they need."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fcgraph

ROOT = Path(fcgraph.__file__).parent.parent


def env_with_repo(**extra: str) -> dict[str, str]:
    """The environment of a child process that imports this checkout's fcgraph."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    return {**env, "PYTHONPATH": path, "COLUMNS": "200", **extra}


#: A ``sitecustomize`` that makes importing the packages ``{names}`` fail (for
#: :func:`env_without`).
BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {names!r}:
            raise ImportError(name + ' is blocked in this test')
sys.meta_path.insert(0, _Block())
"""


def env_without(site: Path, *packages: str) -> dict[str, str]:
    """:func:`env_with_repo` of a child process that cannot import ``packages`` (a
    ``sitecustomize`` in the new folder ``site`` blocks them)."""
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK.format(names=tuple(packages)))
    env = env_with_repo()
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    return env


def env_without_dask(site: Path) -> dict[str, str]:
    """:func:`env_with_repo` of a child process that cannot import Dask."""
    return env_without(site, "dask", "distributed")


def without_timings(data, fields: frozenset[str] = frozenset({"seconds"})):
    """``data`` (parsed JSON) without the keys ``fields`` at any depth: the timings that differ
    between two runs of the same work."""
    if isinstance(data, dict):
        return {k: without_timings(v, fields) for k, v in data.items() if k not in fields}
    if isinstance(data, list):
        return [without_timings(v, fields) for v in data]
    return data


@contextmanager
def dashboard_port_taken(port: int = 8787) -> Iterator[None]:
    """Hold Dask's default dashboard port (as another cluster or a notebook would), if it is
    free; when it is not, someone already holds it, which is the same for the test."""
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
            s.listen()
        except OSError:
            pass
        yield


def assert_same_files(got: Path, want: Path, timing_fields: frozenset[str]) -> None:
    """Every file of ``want`` is in ``got`` with the same bytes, and no other file; JSON files
    the same but for the keys ``timing_fields`` (:func:`without_timings`)."""
    import json

    files = sorted(p.relative_to(want) for p in want.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(got) for p in got.rglob("*") if p.is_file())
    for rel in files:
        if rel.suffix == ".json":
            a, b = (json.loads((root / rel).read_text()) for root in (got, want))
            assert without_timings(a, timing_fields) == without_timings(b, timing_fields), rel
        else:
            assert (got / rel).read_bytes() == (want / rel).read_bytes(), rel


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (stopped by :meth:`stop`)."""

    def __init__(self, tmp: Path) -> None:
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.tmp = tmp
        self.scheduler = self._start(["scheduler", "--host", "127.0.0.1", "--port",
                                      self.address.rsplit(":", 1)[1], "--no-dashboard"], "scheduler")
        self.workers: list[subprocess.Popen[bytes]] = []

    def _start(self, args: list[str], name: str, prefix: tuple[str, ...] = (),
               **env: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - the process keeps it
        return subprocess.Popen([*prefix, sys.executable, "-m", "dask", *args], env=env_with_repo(**env),
                                stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp)

    def add_worker(self, *extra: str, prefix: tuple[str, ...] = (), **env: str) -> subprocess.Popen[bytes]:
        n = len(self.workers)
        worker = self._start(["worker", self.address, "--nthreads", "1", "--host", "127.0.0.1",
                              "--no-dashboard", "--local-directory", str(self.tmp / f"w{n}"), *extra],
                             f"worker{n}", prefix, **env)
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, n: int, timeout: float = 60) -> None:
        from distributed import Client

        with Client(self.address, timeout=timeout) as client:
            client.wait_for_workers(n, timeout=timeout)

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def can_hide_folders() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /mnt"], capture_output=True)
    return probe.returncode == 0
