"""The progress display shared by long commands: a Rich bar per task name on a terminal; in a
log (output not a terminal) a line per task when it starts, at most every
:data:`LOG_EVERY_SECONDS` while it runs, and when it ends, on stderr."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
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

#: Seconds between two progress lines of one task in a log.
LOG_EVERY_SECONDS = 30.0

#: ``update(task, done, total)``
Update = Callable[[str, int, int], None]


@contextmanager
def task_progress(enabled: bool = True, *, log_every: float = LOG_EVERY_SECONDS) -> Iterator[Update]:
    """Yield ``update(task, done, total)``: bars on a terminal, periodic lines in a log
    (``log_every`` seconds apart per task), nothing when disabled."""
    if not enabled:
        yield lambda task, done, total: None
    elif not console.is_terminal:
        yield _log_lines(log_every)
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


def _log_lines(every: float) -> Update:
    started: dict[str, float] = {}
    last: dict[str, float] = {}
    finished: set[str] = set()

    def update(task: str, done: int, total: int) -> None:
        now = time.monotonic()
        if task not in started:
            started[task] = last[task] = now
            err_console.print(f"{task}: started ({total:,} to do)", highlight=False)
        if task in finished:
            return
        if total and done >= total:
            finished.add(task)
            err_console.print(f"{task}: done {done:,}/{total:,} in {now - started[task]:.0f} s",
                              highlight=False)
        elif now - last[task] >= every:
            last[task] = now
            share = f" ({done / total:.0%})" if total else ""
            err_console.print(f"{task}: {done:,}/{total:,}{share} after "
                              f"{now - started[task]:.0f} s", highlight=False)

    return update
