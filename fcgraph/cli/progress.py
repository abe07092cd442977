"""The progress display shared by long commands: a Rich bar per task name on a terminal; in a
log (output not a terminal) a line per task on stderr when it starts, every
``FCGRAPH_PROGRESS_SECONDS`` (default :data:`LOG_EVERY_SECONDS`) while it runs, whether or not
it advanced (a long step is never silent), and when it ends."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from fcgraph.cli.common import console, err_console
from fcgraph.errors import BadArgument
from fcgraph.execution import ProgressFn

#: Seconds between two progress lines of one task in a log, unless ``FCGRAPH_PROGRESS_SECONDS``
#: says otherwise.
LOG_EVERY_SECONDS = 30.0
#: The environment variable that sets the seconds between two progress lines in a log.
SECONDS_ENV = "FCGRAPH_PROGRESS_SECONDS"

#: ``update(task, done, total)``
Update = ProgressFn


def log_every_seconds() -> float:
    """Seconds between two progress lines of a task in a log: ``FCGRAPH_PROGRESS_SECONDS`` or
    :data:`LOG_EVERY_SECONDS`; :class:`BadArgument` unless a positive number."""
    text = os.environ.get(SECONDS_ENV, "").strip()
    if not text:
        return LOG_EVERY_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise BadArgument(SECONDS_ENV, f"expected a positive number of seconds, got {text!r}")
    return seconds


def on_terminal() -> bool:
    """Whether progress is drawn as bars (stdout is a terminal) rather than written as lines."""
    return console.is_terminal


@contextmanager
def task_progress(enabled: bool = True, *, log_every: float | None = None) -> Iterator[Update]:
    """Yield ``update(task, done, total)``: bars on a terminal, periodic lines in a log
    (``log_every`` seconds apart per task, default :func:`log_every_seconds`), nothing when
    disabled."""
    if not enabled:
        yield lambda task, done, total: None
    elif not on_terminal():
        with _log_lines(log_every_seconds() if log_every is None else log_every) as update:
            yield update
    else:
        yield from _bars()


def _bars() -> Iterator[Update]:
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[str, TaskID] = {}

        def update(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = progress.add_task(task, total=total)
            progress.update(tasks[task], completed=done, total=total)

        yield update


@contextmanager
def _log_lines(every: float) -> Iterator[Update]:
    """``update`` writing a task's lines; a background thread writes the line of every running
    task that has had none for ``every`` seconds (with ``every`` 0: a line per update only)."""
    started: dict[str, float] = {}
    last: dict[str, float] = {}
    state: dict[str, tuple[int, int]] = {}
    finished: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def line(task: str, now: float) -> None:
        done, total = state[task]
        last[task] = now
        share = f" ({done / total:.0%})" if total else ""
        err_console.print(f"{task}: {done:,}/{total:,}{share} after {now - started[task]:.0f} s",
                          highlight=False, soft_wrap=True)

    def update(task: str, done: int, total: int) -> None:
        with lock:
            now = time.monotonic()
            if task not in started:
                started[task] = last[task] = now
                err_console.print(f"{task}: started ({total:,} to do)", highlight=False,
                                  soft_wrap=True)
            if task in finished:
                return
            state[task] = (done, total)
            if done >= total:
                finished.add(task)
                err_console.print(f"{task}: done {done:,}/{total:,} in {now - started[task]:.0f} s",
                                  highlight=False, soft_wrap=True)
            elif now - last[task] >= every:
                line(task, now)

    def heartbeat() -> None:
        while not stop.wait(min(every, 1.0)):
            with lock:
                now = time.monotonic()
                for task in [t for t in state if t not in finished and now - last[t] >= every]:
                    line(task, now)

    beat = threading.Thread(target=heartbeat, name="fcgraph-progress", daemon=True)
    if every > 0:
        beat.start()
    try:
        yield update
    finally:
        stop.set()
        if beat.is_alive():
            beat.join()
