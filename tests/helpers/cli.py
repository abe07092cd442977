"""The ``fcgraph`` command, in this process (:func:`invoke`) or in a subprocess
(:class:`FcgraphCli`, also the ``fcgraph_cli`` fixture), and the environment for a server."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from fcgraph import faults

if TYPE_CHECKING:
    from typer.testing import Result


def env_of(conn) -> dict[str, str]:
    return {"NEO4J_URI": conn.uri, "NEO4J_USER": conn.user, "NEO4J_PASSWORD": conn.password,
            "NEO4J_DATABASE": conn.database}


class FcgraphCli:
    """The real ``fcgraph`` command of the tree under test, in a subprocess: PYTHONPATH and the rest
    of the environment inherited, plus ``env``; killed at ``fault`` when given (fcgraph/faults.py)."""

    @staticmethod
    def _popen_args(args: tuple[object, ...], fault: str | None,
                    env: dict[str, str] | None) -> dict[str, Any]:
        environ = {k: v for k, v in os.environ.items() if k != faults.ENV} | (env or {})
        if fault:
            environ[faults.ENV] = fault
        return {"args": [sys.executable, "-m", "fcgraph", *map(str, args)], "env": environ,
                "text": True}

    def __call__(self, *args: object, fault: str | None = None, env: dict[str, str] | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess:
        """Run to the end; the completed process (text output)."""
        return subprocess.run(**self._popen_args(args, fault, env), capture_output=True,
                              timeout=timeout)

    def start(self, *args: object, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen:
        """Start, and return the running process (``popen``: e.g. stdout, stderr)."""
        return subprocess.Popen(**self._popen_args(args, None, env), **popen)


def invoke(args: list[str], env: dict[str, str] | None = None, exit_code: int = 0) -> Result:
    """Run an ``fcgraph`` command in this process and check its exit code (and that it did not
    crash); returns the result (``stdout``, ``stderr``)."""
    from typer.testing import CliRunner

    from fcgraph.cli import app

    result = CliRunner().invoke(app, args, env=env)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert result.exit_code == exit_code and not crashed, (result.output, result.exception)
    return result
