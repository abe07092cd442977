"""Options and error handling shared by every fcgraph command."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from neo4j.exceptions import DriverError, IncompleteCommit, Neo4jError, ServiceUnavailable, SessionExpired
from rich.console import Console

from fcgraph.errors import FcgraphError
from fcgraph.graph.connection import Connection, resolve_connection
from fcgraph.paths import state_dir

# the driver's retry warnings would reach stderr through logging's last-resort handler: the
# CLI reports a lost connection once, in one line (handle_errors)
logging.getLogger("neo4j").addHandler(logging.NullHandler())

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

StateDirOption = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar="FCGRAPH_STATE_DIR", show_envvar=True,
                 help="State folder for the local Neo4j (default ~/.local/share/fcgraph).",
                 rich_help_panel="Connection"),
]
UriOption = Annotated[
    str | None,
    typer.Option("--uri", envvar="NEO4J_URI", show_envvar=True,
                 help="Neo4j URI (bolt://, neo4j://, neo4j+s://); default: the local server.",
                 rich_help_panel="Connection"),
]
UserOption = Annotated[
    str | None,
    typer.Option("--user", envvar="NEO4J_USER", show_envvar=True, help="Neo4j user.",
                 rich_help_panel="Connection"),
]
PasswordOption = Annotated[
    str | None,
    typer.Option("--password", envvar="NEO4J_PASSWORD", show_envvar=True, show_default=False,
                 help="Neo4j password (prefer the environment variable; never printed).",
                 rich_help_panel="Connection"),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", envvar="NEO4J_DATABASE", show_envvar=True,
                 help="Database name (default neo4j).", rich_help_panel="Connection"),
]


def connection(uri: str | None, user: str | None, password: str | None, database: str | None,
               state: Path | None) -> Connection:
    """Resolve the CLI's connection options into a :class:`Connection`."""
    return resolve_connection(uri, user, password, database, state_dir(state))


def handle_errors(func: F) -> F:
    """Turn :class:`FcgraphError` (and Ctrl-C) into one line on stderr and a non-zero exit:
    2 for a bad flag or argument (:class:`BadArgument`), 1 for bad data or no server, 130 for
    Ctrl-C."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FcgraphError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (ServiceUnavailable, SessionExpired, IncompleteCommit) as exc:
            err_console.print(f"[bold red]error:[/] the connection to Neo4j was lost "
                              f"({_first_line(exc)}); check that it runs (`fcgraph db status`), "
                              "then rerun the same command", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except (Neo4jError, DriverError) as exc:
            err_console.print(f"[bold red]error:[/] Neo4j: {_first_line(exc)}",
                              highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]; rerun the same command to resume")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _first_line(exc: BaseException) -> str:
    """The first line of a driver error, without the driver's address objects' reprs."""
    text = (getattr(exc, "message", None) or str(exc) or type(exc).__name__).strip().splitlines()[0]
    text = re.sub(r"\s*\(ResolvedIPv[46]Address\(\([^)]*\)\)\)", "", text)
    return re.sub(r"IPv[46]Address\(\('([^']+)', (\d+)\)\)", r"\1:\2", text)
