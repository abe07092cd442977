"""Where a stage runs its units of work: in this process, or on a Dask cluster.

:class:`Execution` holds the options (``--scheduler``, ``--local-workers``,
``--cluster-timeout``: a command gets them from its fields through
:func:`fcgraph.cli.common.settings_options`, so every command that distributes its units says
the same). Without a scheduler or local workers a stage runs in-process exactly as before and
nothing here imports Dask. With one, :func:`dask_client` gives a ``distributed.Client``:

- ``scheduler``: the address of a running scheduler (``tcp://host:8786``; the CLI's default is
  ``DASK_SCHEDULER_ADDRESS``). Its workers need fcgraph installed and the run folder at the same
  path (a shared filesystem): :func:`check_shared_folder` checks both before any unit is sent.
- ``local_workers``: N worker processes of one thread each on this machine, started for the
  run and stopped after it; or ``"gpu"`` (:data:`GPU_WORKERS`): a ``dask_cuda.LocalCUDACluster``
  of one worker per GPU (each sees only its own GPU; the ``dask-gpu`` extra), on which
  ``fcgraph fc`` runs on CuPy.

:func:`run_units` sends the units, calls back as each one finishes, and turns what can go wrong
into one-line :class:`~fcgraph.errors.FcgraphError` s: no scheduler answering or no worker
joining within ``timeout`` (:class:`ClusterUnavailable`), the scheduler lost mid-run
(:class:`ClusterLost`), a unit failing on a worker (:class:`UnitFailed`, with the worker's
address), a worker that cannot see the run folder (:class:`RunFolderNotShared`). A worker
killed mid-unit is Dask's to handle: the scheduler sends the unit to another worker.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcgraph.errors import BadArgument, FcgraphError, at_least, number_in
from fcgraph.mirror import Spec, active, mirror_of, on_worker, probe_store, specs

if TYPE_CHECKING:
    from distributed import Client

#: A stage's progress callback: ``progress(task, done, total)`` after each unit of ``task``.
ProgressFn = Callable[[str, int, int], None]

#: The environment variable the CLI reads ``--scheduler`` from (Dask's own name for it).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
INSTALL_HINT = "pip install 'fcgraph[dask]'"
#: ``--local-workers gpu``: a local dask-cuda cluster of one worker per GPU.
GPU_WORKERS = "gpu"
GPU_INSTALL_HINT = "pip install 'fcgraph[dask-gpu]'"


def _option(default: Any, help: str, **cli: Any) -> Any:
    """A field with its command-line option (help, flags, Typer keywords)."""
    return field(default=default, metadata={"help": help, **cli})


class ClusterUnavailable(FcgraphError):
    """No Dask scheduler answers at the address, or it has no worker, within the timeout."""


class ClusterLost(FcgraphError):
    """The Dask scheduler went away (or a unit killed worker after worker) during a run."""


class RunFolderNotShared(FcgraphError):
    """A Dask worker cannot read or write the run folder at the client's path."""


class UnitFailed(FcgraphError):
    """A unit of work raised a :class:`FcgraphError` on a worker (the message names the worker)."""


@dataclass(frozen=True)
class Execution:
    """Where units run: in-process (the default), on a running Dask scheduler, or on a local
    cluster started for the run (module doc). ``timeout``: seconds to wait for the scheduler to
    answer and for a first worker to join."""

    scheduler: str | None = _option(
        None, "Run the units of work on the Dask scheduler at this address (tcp://host:8786); "
              "its workers must see the run folder at the same path.",
        flags=("--scheduler",), envvar=SCHEDULER_ENV, show_envvar=True, show_default=False)
    local_workers: int | str = _option(
        0, "Start a local Dask cluster of N worker processes (1 thread each) for this run "
           "(0: run in this process), or 'gpu': a dask-cuda cluster of one worker per GPU "
           "(fc then runs on CuPy).", cli_type=str, metavar="N|gpu")
    timeout: float = _option(
        30.0, "Seconds to wait for the Dask scheduler to answer and a worker to join.",
        flags=("--cluster-timeout",), min=0.1)

    @classmethod
    def create(cls, scheduler: str | None = None, local_workers: int | str = 0,
               timeout: float = 30.0) -> Execution:
        """Checked options.

        Parameters
        ----------
        scheduler : str or None
            A Dask scheduler's address (``tcp://host:8786``); blank counts as None.
        local_workers : int or str
            Worker processes of a local cluster started for the run (0: none), as a number or
            its text (the command line's), or ``"gpu"``: one worker per GPU (dask-cuda).
        timeout : float
            Seconds to wait for the scheduler to answer and a first worker to join.

        Returns
        -------
        Execution
            The options.

        Raises
        ------
        BadArgument
            Both a scheduler and local workers, or a value out of range.
        """
        scheduler = (scheduler or "").strip() or None
        workers = _local_workers(local_workers)
        number_in(timeout, "--cluster-timeout", 0, open_low=True)
        if scheduler and workers:
            raise BadArgument("--local-workers", "give --scheduler (or DASK_SCHEDULER_ADDRESS) or "
                                                 "--local-workers, not both")
        return cls(scheduler, workers, float(timeout))

    @property
    def distributed(self) -> bool:
        """True when units go to a Dask cluster."""
        return bool(self.scheduler or self.local_workers)

    @property
    def gpu_workers(self) -> bool:
        """True for a local dask-cuda cluster of one worker per GPU (``--local-workers gpu``)."""
        return self.local_workers == GPU_WORKERS

    def describe(self) -> str:
        """One line: where the units run."""
        if self.scheduler:
            return f"Dask scheduler at {self.scheduler}"
        if self.gpu_workers:
            return "local dask-cuda cluster, one worker per GPU"
        if self.local_workers:
            return f"local Dask cluster of {self.local_workers} worker(s) x 1 thread"
        return "in-process"


def _local_workers(value: int | str) -> int | str:
    """``--local-workers``: a whole number >= 0 (or its text), or ``"gpu"``."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == GPU_WORKERS:
            return GPU_WORKERS
        try:
            value = int(text)
        except ValueError:
            raise BadArgument("--local-workers", f"{value!r} is neither a number of workers nor "
                                                 f"{GPU_WORKERS!r} (one worker per GPU)") from None
    return at_least(value, 0, "--local-workers")


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's own log lines (reconnect attempts, a worker lost) off stderr for the run: what
    matters reaches the user as one error line."""
    import distributed  # noqa: F401 - its loggers, configured on import

    names = [n for n in list(logging.root.manager.loggerDict)
             if n.split(".")[0] in ("distributed", "tornado")]
    loggers = [logging.getLogger(name) for name in sorted({"distributed", "tornado", *names})]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@contextmanager
def dask_client(execution: Execution) -> Iterator[Client | None]:
    """A Dask client for ``execution``, with at least one worker.

    Parameters
    ----------
    execution : Execution
        Where the units run.

    Yields
    ------
    distributed.Client or None
        None in-process (Dask is then not imported). The client is closed, and a local cluster
        stopped, on exit.

    Raises
    ------
    ClusterUnavailable
        No scheduler answers, or no worker joins, within ``execution.timeout``.
    FcgraphError
        Dask (with ``gpu``: dask-cuda) is not installed, or with ``gpu`` no GPU is found.
    """
    if not execution.distributed:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise FcgraphError(f"--scheduler and --local-workers need Dask: {INSTALL_HINT}") from None
    with _quiet_dask():
        cluster = None
        if execution.local_workers:
            cluster = _local_cluster(execution, LocalCluster)
            address = cluster.scheduler_address
        else:
            address = str(execution.scheduler)
        try:
            client = _connect(Client, address, execution.timeout)
            try:
                _wait_for_a_worker(client, address, execution.timeout)
                yield client
            finally:
                client.close(timeout=5)
        finally:
            if cluster is not None:
                cluster.close(timeout=10)


def _local_cluster(execution: Execution, local_cluster: type) -> Any:
    """The local cluster of ``execution``: ``local_cluster`` (``distributed.LocalCluster``) of
    N workers, or with ``gpu`` a ``dask_cuda.LocalCUDACluster`` of one worker per GPU; both of
    one thread per worker, on 127.0.0.1, without dashboard or log lines."""
    quiet: dict[str, Any] = dict(threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                 silence_logs=logging.CRITICAL,
                                 # no dashboard; its HTTP server on a free port (a busy 8787,
                                 # e.g. another cluster's, would print a warning)
                                 scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"})
    if not execution.gpu_workers:
        return local_cluster(n_workers=execution.local_workers, processes=True, **quiet)
    try:
        from dask_cuda import LocalCUDACluster
        from dask_cuda.utils import get_n_gpus
    except ImportError:
        raise FcgraphError(f"--local-workers gpu needs dask-cuda: {GPU_INSTALL_HINT}") from None
    try:
        gpus = get_n_gpus()
    except Exception as exc:  # NVML missing or failing: pynvml raises its own errors
        raise FcgraphError(f"--local-workers gpu: no GPU found ({_first_line(exc)})") from None
    if not gpus:
        raise FcgraphError("--local-workers gpu: no GPU found")
    return LocalCUDACluster(**quiet)


def _connect(client_class: type, address: str, timeout: float) -> Client:
    from distributed.comm import get_address_host_port

    try:  # before a Client is made: one that fails here complains again when collected
        get_address_host_port(address)
    except ValueError as exc:
        raise BadArgument("--scheduler", f"{address!r}: {_first_line(exc)}") from None
    try:
        return client_class(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterUnavailable(f"no Dask scheduler answers at {address} within {timeout:g} s "
                                 f"({_first_line(exc)}); start one with `dask scheduler` or check "
                                 "--scheduler / " + SCHEDULER_ENV) from None
    except ValueError as exc:  # not an address
        raise BadArgument("--scheduler", f"{address!r}: {_first_line(exc)}") from None


def _wait_for_a_worker(client: Client, address: str, timeout: float) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        raise ClusterUnavailable(f"the Dask scheduler at {address} has no worker after {timeout:g} s; "
                                 f"start some with `dask worker {address}`") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# -- the run folder, seen from the workers ----------------------------------------------------------


def _probe_folder(folder: str, marker: str, expected: str) -> str | None:
    """On a worker: None when ``folder/marker`` holds ``expected`` and ``folder`` is writable,
    else the problem."""
    import os
    import tempfile

    path = Path(folder) / marker
    try:
        text = path.read_text()
    except OSError as exc:
        return f"cannot read {path} ({exc.strerror or exc})"
    if text != expected:
        return f"{path} is not the client's file (another folder at the same path?)"
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return f"cannot write into {folder} ({exc.strerror or exc})"
    return None


def check_shared_folder(client: Client, folder: Path, marker: str) -> None:
    """Check that every worker sees ``folder`` as this process does.

    Parameters
    ----------
    client : distributed.Client
        The cluster's client.
    folder : Path
        A folder of the run that the workers will write into.
    marker : str
        A file in ``folder`` that every worker must read with the same content as here.

    Raises
    ------
    RunFolderNotShared
        Naming the first worker that cannot read the marker, reads another content, or may not
        write into ``folder``.
    ClusterLost
        The cluster stopped answering.
    """
    folder = Path(folder)
    expected = (folder / marker).read_text()
    store = mirror_of(folder)
    if store is not None:  # a run folder at a URL: the workers must reach the store instead
        store.push()
        probe: tuple[Any, ...] = (probe_store, store.url, store.relative(folder / marker), expected)
        advice = (f"every worker must reach the store of {store.url} (its credentials and endpoint "
                  "in the worker's environment)")
    else:
        probe = (_probe_folder, str(folder), marker, expected)
        advice = "the run folder must be on a filesystem every worker sees at the same path"
    with _quiet_dask():
        try:
            found = client.run(*probe)
        except (OSError, TimeoutError) as exc:
            raise ClusterLost(f"the Dask cluster stopped answering ({_first_line(exc)})") from None
    for worker, problem in sorted(found.items()):
        if problem:
            raise RunFolderNotShared(f"Dask worker {worker} {problem}: {advice}")


# -- units ----------------------------------------------------------------------------------------


def _run_unit(func: Callable[..., Any], args: tuple[Any, ...], stores: Sequence[Spec] = ()) -> Any:
    """On a worker: ``func(*args)``, a :class:`FcgraphError` raised as :class:`UnitFailed`
    (plain to pickle) naming the worker. ``stores``: the client's run folders at URLs, which
    the unit works on through this worker's mirrors of them (:func:`fcgraph.mirror.on_worker`)."""
    try:
        if not stores:
            return func(*args)
        with on_worker(stores) as rename:
            return func(*rename(args))
    except FcgraphError as exc:
        from distributed import get_worker

        try:
            where = get_worker().address
        except ValueError:
            where = "?"
        failed = UnitFailed(f"on Dask worker {where}: {exc}")
        failed.exit_code = exc.exit_code
        raise failed from None


class _Queues:
    """Units held back in queues, one per worker thread, sent one at a time per queue
    (:func:`run_units`); a queue that runs dry takes the second half of the longest one."""

    def __init__(self, queues: Sequence[tuple[str, Sequence[int]]]) -> None:
        self.where = [address for address, _ in queues]
        self.left = [deque(units) for _, units in queues]

    def first(self) -> list[tuple[int, int]]:
        """``(queue, unit)``: the head of every queue."""
        return [(q, units.popleft()) for q, units in enumerate(self.left) if units]

    def next(self, q: int) -> int | None:
        """The unit queue ``q`` runs next (None: none left anywhere)."""
        if not self.left[q]:
            longest = max(range(len(self.left)), key=lambda r: len(self.left[r]))
            victim = self.left[longest]
            take = (len(victim) + 1) // 2  # its last ones, kept in order
            self.left[q].extend([victim.pop() for _ in range(take)][::-1])
        return self.left[q].popleft() if self.left[q] else None


def run_units(client: Client, func: Callable[..., Any], units: Sequence[tuple[Any, ...]],
              on_done: Callable[[int, Any], None], *, describe: Callable[[int], str],
              name: str = "fcgraph",
              queues: Sequence[tuple[str, Sequence[int]]] | None = None) -> None:
    """Run ``func(*units[i])`` for every ``i`` on the cluster's workers.

    Parameters
    ----------
    client : distributed.Client
        The cluster's client.
    func : callable
        A module-level function of fcgraph (importable on the workers).
    units : sequence of tuple
        The arguments of each unit.
    on_done : callable
        ``on_done(i, result)``, called in this process as each unit finishes, in the order
        they finish.
    describe : callable
        ``describe(i)``: unit ``i`` in words, for messages.
    name : str
        Prefix of the Dask task keys.
    queues : sequence of (str, sequence of int), optional
        Units that should run in order on one worker thread: ``(address, units)`` per thread
        (an address once per thread of its worker), every unit in one queue. Each queue sends
        its next unit when the one before finishes, to that worker (Dask's ``workers=`` with
        ``allow_other_workers=True``: another worker runs it if that one is gone), so a worker
        holds no unit for Dask to move elsewhere; a queue that runs dry takes the second half
        of the longest queue's units left, in order. Default: every unit sent at once, to any
        worker.

    Raises
    ------
    UnitFailed
        A unit raised a :class:`FcgraphError` on a worker (its exit code kept).
    ClusterLost
        The scheduler was lost, or a unit killed every worker it ran on.

    Notes
    -----
    Any other exception of a unit is re-raised as it is. On any error the units still pending
    are cancelled first (units held back in queues are never sent).
    """
    from distributed import as_completed
    from distributed.client import FutureCancelledError

    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover - older distributed
        from distributed import KilledWorker  # type: ignore[no-redef,attr-defined]

    held = _Queues(queues) if queues is not None else None
    if held is not None:
        assert sorted(i for _, q in queues or () for i in q) == list(range(len(units)))
    index: dict[str, int] = {}
    queue_of: dict[str, int] = {}
    futures: list[Any] = []

    def send(i: int, q: int | None = None) -> Any:
        where = {} if q is None or held is None else \
            {"workers": [held.where[q]], "allow_other_workers": True}
        future = client.submit(_run_unit, func, tuple(units[i]), stores, pure=False,
                               key=f"{name}-{i}-{_token()}", **where)
        index[future.key] = i
        if q is not None:
            queue_of[future.key] = q
        futures.append(future)
        return future

    stores = specs()  # run folders at URLs: the workers' copies come from the store
    for m in active():
        m.push()
    with _quiet_dask():
        if held is None:
            first = [send(i) for i in range(len(units))]
        else:
            first = [send(i, q) for q, i in held.first()]
        try:
            pending = as_completed(first, loop=client.loop)
            for future in pending:
                i = index[future.key]
                if future.status == "finished":
                    result = future.result()
                    for m in active():
                        m.pull()  # the files the unit wrote, before they are read here
                    on_done(i, result)
                    q = queue_of.get(future.key)
                    nxt = held.next(q) if held is not None and q is not None else None
                    if nxt is not None:
                        pending.add(send(nxt, q))
                    continue
                if future.status == "cancelled":
                    future.result()  # raises FutureCancelledError, with Dask's reason
                exc = future.exception()
                if isinstance(exc, KilledWorker):
                    raise ClusterLost(f"{describe(i)} killed every Dask worker it ran on (out of "
                                      "memory?); the finished units are saved, rerun to resume")
                if isinstance(exc, ImportError) and "fcgraph" in str(exc):
                    raise FcgraphError(f"a Dask worker cannot import fcgraph ({_first_line(exc)}): "
                                       "install fcgraph on every worker") from None
                raise exc
        except (FutureCancelledError, OSError, TimeoutError) as exc:
            raise ClusterLost(_lost(client, exc)) from None
        except BaseException:
            _cancel(client, futures)
            raise


def _lost(client: Client, exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or _first_line(exc)
    address = getattr(getattr(client, "scheduler", None), "address", None)
    where = f" at {address}" if address else ""
    return (f"lost the Dask scheduler{where} during the run ({reason}); the finished units are "
            "saved: rerun the same command to resume")


def _cancel(client: Client, futures: list[Any]) -> None:
    with suppress(Exception):  # a lost scheduler: nothing left to cancel
        client.cancel([f for f in futures if not f.done()], force=True)


def _token() -> str:
    import uuid

    return uuid.uuid4().hex[:12]
