"""One readable sentence for an external tool that failed (neo4j-admin, Maven, Java).

A tool's output is long and ends with whatever it printed last (a usage screen, a stack
trace). :func:`tool_failure` keeps the one line that says why, quotes it as plain text, says
what to do, and leaves the whole output, with every secret masked, in a log file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from fcgraph.errors import FcgraphError
from fcgraph.io import atomic_write_text

MASK = "***"
MAX_QUOTE = 240
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TELLING = re.compile(r"(?i)\b(error|exception|unknown|missing|invalid|illegal|failed|failure|denied|"
                      r"not found|cannot|can't|could not|unable|no such|refused|no space|must)\b")
_JAVA_CLASS = re.compile(r"^(?:Caused by:\s*)?(?:[\w$]+\.)+[\w$]*(?:Exception|Error)(?::\s*|$)")
_NOISE = re.compile(r"^(at |\.\.\. \d+ more|\[INFO\]|USAGE|Usage:)")


def mask(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def telling_line(output: str) -> str:
    """The line of a tool's output that says why it failed, as plain text.

    The last ``Caused by:`` of a Java trace (the root cause), else the first line with a word
    of failure, else the first line; Java class names and Maven's ``[ERROR]`` are dropped.
    """
    lines = [_ANSI.sub("", ln).strip() for ln in output.splitlines()]
    lines = [ln for ln in lines if ln and not _NOISE.match(ln)]
    if not lines:
        return "no output"
    causes = [ln for ln in lines if ln.startswith("Caused by:")]
    line = causes[-1] if causes else next((ln for ln in lines if _TELLING.search(ln)), lines[0])
    line = _JAVA_CLASS.sub("", line.removeprefix("[ERROR]").strip()) or line
    return line if len(line) <= MAX_QUOTE else line[:MAX_QUOTE - 3] + "..."


def tool_failure(what: str, output: str, *, advice: str, log: Path | None = None,
                 secrets: Iterable[str | None] = ()) -> FcgraphError:
    """An :class:`FcgraphError` saying, in one sentence, what failed, why and what to do.

    Parameters
    ----------
    what : str
        What was being done, e.g. ``"setting the initial Neo4j password"``.
    output : str
        The tool's stdout and stderr.
    advice : str
        What the user can do about it.
    log : Path, optional
        Where the whole output is kept (written atomically, secrets masked).
    secrets : iterable of str
        Strings that must never appear in the message or the log (passwords).

    Returns
    -------
    FcgraphError
        To be raised by the caller.
    """
    secrets = list(secrets)
    output = mask(output, secrets)
    where = ""
    if log is not None:
        atomic_write_text(log, output, mode=0o600)
        where = f"; the whole output is in {log}"
    quote = mask(telling_line(output), secrets)
    return FcgraphError(f'{what} failed: "{quote}"; {advice}{where}')
