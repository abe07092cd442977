"""The exceptions fcgraph raises for problems a user can fix (bad input, no server), and the
checks of flag values that raise them."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class FcgraphError(Exception):
    """A user-facing error; the CLI prints its message as one line and exits with ``exit_code``.

    The default, 1, means bad data or an environment problem (a corrupt file, no server).
    """

    exit_code = 1


class BadArgument(FcgraphError, ValueError):
    """A flag or argument value that cannot be used (a usage error): the CLI exits 2, as Click
    does for its own usage errors. The message is ``"<flag>: <problem>"``; ``flag`` names the
    flag (``--n-images``), the argument (a path) or the query parameter at fault."""

    exit_code = 2

    def __init__(self, flag: str, problem: str) -> None:
        super().__init__(f"{flag}: {problem}")
        self.flag = flag
        self.problem = problem


@contextmanager
def reading(path: Path | str) -> Iterator[None]:
    """Checks of values read from the file ``path`` (not given as flags): a :class:`BadArgument`
    raised inside becomes a :class:`FcgraphError` (bad data, exit 1) naming the file."""
    try:
        yield
    except BadArgument as exc:
        raise FcgraphError(f"{path}: {exc.problem}") from None


def choice(value: str, choices: Iterable[str], flag: str, what: str) -> str:
    """``value`` if it is one of ``choices``, else :class:`BadArgument` listing them."""
    names = list(choices)
    if value not in names:
        raise BadArgument(flag, f"unknown {what} {value!r}; choose one of {', '.join(names)}")
    return value


def at_least(value: int, minimum: int, flag: str) -> int:
    """``value`` if it is a whole number >= ``minimum``, else :class:`BadArgument`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = "a positive number" if minimum == 1 else f"a whole number >= {minimum}"
        raise BadArgument(flag, f"{value} is not {what}")
    return int(value)


def number_in(value: float, flag: str, low: float | None = None, high: float | None = None, *,
              open_low: bool = False, open_high: bool = False) -> float:
    """``value`` if it is a finite number within [low, high] (an open end with ``open_*``),
    else :class:`BadArgument`."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if open_low else value >= low
    if ok and high is not None:
        ok = value < high if open_high else value <= high
    if not ok:
        raise BadArgument(flag, f"{value} is not a finite number{_span(low, high, open_low, open_high)}")
    return float(value)


def _span(low: float | None, high: float | None, open_low: bool, open_high: bool) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if open_low else '>='} {low:g}"
    if low is None:
        return f" {'<' if open_high else '<='} {high:g}"
    return f" in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
