"""Options and error handling shared by every fcgraph command."""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import logging
import re
import typing
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from neo4j.exceptions import DriverError, IncompleteCommit, Neo4jError, ServiceUnavailable, SessionExpired
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup
from typer.models import ParameterInfo

try:  # recent Typer vendors Click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - Typer on Click
    from click.exceptions import UsageError  # type: ignore[no-redef]

from fcgraph.errors import FcgraphError
from fcgraph.graph.connection import Connection, resolve_connection
from fcgraph.paths import state_dir

# the driver's retry warnings would reach stderr through logging's last-resort handler: the
# CLI reports a lost connection once, in one line (handle_errors)
logging.getLogger("neo4j").addHandler(logging.NullHandler())

#: What every run-folder argument's help says about URLs.
URL_HELP = "or the URL of one in an fsspec store (s3://bucket/runs/demo)"


def run_file(root: str | Path, name: str) -> str:
    """The file or folder ``name`` (a :class:`~fcgraph.run_folder.RunFolder` property) of the run
    folder ``root``, as the user named the folder: a URL stays a URL."""
    from fcgraph.run_folder import RunFolder, is_url

    if not is_url(root):
        return str(getattr(RunFolder(root), name))
    rel = RunFolder("/").relative(getattr(RunFolder("/"), name))
    return f"{str(root).rstrip('/')}/{rel}"


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


def choices(names: Sequence[str]) -> Any:
    """The type under which an option accepts exactly ``names`` (a ``Literal`` of them, passed
    on as the plain string): the help lists them, and another value is refused in one line
    that lists them. ``names`` is the list's one home (``fcgraph.names``, ``fcgraph.fc.settings``)."""
    return Literal[tuple(names)]  # type: ignore[valid-type]


def condition_names(values: list[str] | None) -> list[str] | None:
    """Condition names given as repeated ``-c`` and/or comma-separated lists, in order; None
    when none is given."""
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def conditions_option(help: str, *flags: str) -> Any:
    """The ``--condition`` / ``-c`` option every command shares: repeatable or comma-separated
    (``-c clean -c uniform:0.1`` or ``-c clean,uniform:0.1``), read by :func:`condition_names`."""
    return typer.Option(*(flags or ("--condition", "-c")), callback=condition_names,
                        help=f"{help} Repeatable or comma-separated.")


def connection(uri: str | None, user: str | None, password: str | None, database: str | None,
               state: Path | None) -> Connection:
    """Resolve the CLI's connection options into a :class:`Connection`."""
    return resolve_connection(uri, user, password, database, state_dir(state))


def _built_argument(func: F, name: str, generated: list[inspect.Parameter],
                    build: Callable[[dict[str, Any]], Any]) -> F:
    """``func`` with the options ``generated`` added to its command-line signature (after its
    required arguments) and called with ``name=build(their values)`` in their place. A generated
    option that ``func`` declares itself is passed to it as well."""
    own = [p for p in inspect.signature(func, eval_str=True).parameters.values() if p.name != name]
    declared = {p.name for p in own}
    added = [p for p in generated if p.name not in declared]
    required = [p for p in own if p.default is inspect.Parameter.empty]
    optional = [p for p in own if p.default is not inspect.Parameter.empty]
    parameters = [*required, *added, *optional]

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        values = {p.name: kwargs[p.name] if p.name in declared else kwargs.pop(p.name)
                  for p in generated}
        return func(**kwargs, **{name: build(values)})

    wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper  # type: ignore[return-value]


def settings_options(settings: type, name: str = "params", panel: str | None = None
                     ) -> Callable[[F], F]:
    """Give the decorated command one option per field of the dataclass ``settings`` (its
    default, type and help, and any Typer keywords such as ``min``, from the field itself; a
    field's ``choices`` metadata, a tuple of names, makes it an enumerated option, see
    :func:`choices`; its ``cli_type``, the type the option reads when the field's own, such as
    ``int | str``, is not one Typer reads), and call it with
    ``name=settings.create(**those values)`` (or the constructor when the class has no
    ``create``): the options, their defaults and their checks
    have one home. ``panel``: the group of ``--help`` they are listed in (a field's own
    ``rich_help_panel`` first)."""
    hints = typing.get_type_hints(settings)
    build = getattr(settings, "create", settings)
    generated = []
    for f in dataclasses.fields(settings):
        cli = {"rich_help_panel": panel, **f.metadata}
        names = cli.pop("choices", None)
        given = cli.pop("cli_type", None)
        option = typer.Option(*cli.pop("flags", ()), help=cli.pop("help", None), **cli)
        kind = given or (hints[f.name] if names is None else choices(names))
        generated.append(inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                           default=f.default, annotation=Annotated[kind, option]))

    def decorate(func: F) -> F:
        return _built_argument(func, name, generated, lambda values: build(**values))

    return decorate


def option_panels(panels: dict[str, Sequence[str]]) -> Callable[[F], F]:
    """List the decorated command's options in groups of its ``--help``: ``{panel: (parameter
    names, ...)}`` (after its ungrouped options, each group where its first option comes).
    Apply it first (the innermost decorator), to the command function itself."""

    def decorate(func: F) -> F:
        hints = typing.get_type_hints(func, include_extras=True)
        for panel, names in panels.items():
            for name in names:
                kind, *extras = typing.get_args(hints[name])
                # a copy: an option shared by several commands (StateDirOption) keeps its group
                extras = [copy.copy(m) if isinstance(m, ParameterInfo) else m for m in extras]
                for m in extras:
                    if isinstance(m, ParameterInfo):
                        m.rich_help_panel = panel
                func.__annotations__[name] = Annotated[(kind, *extras)]  # evaluated: Typer reads it
        return func

    return decorate


_CONNECTION_OPTIONS = [
    inspect.Parameter(option, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                      annotation=annotation)
    for option, annotation in (("state", StateDirOption), ("uri", UriOption), ("user", UserOption),
                               ("password", PasswordOption), ("database", DatabaseOption))]


def connection_options(func: F) -> F:
    """Give the decorated command the connection options (``--state-dir``, ``--uri``,
    ``--user``, ``--password``, ``--database``, each with its environment variable) and call it
    with ``conn``, the :class:`Connection` they resolve to (options > NEO4J_* > the local
    server's credentials)."""
    return _built_argument(func, "conn", _CONNECTION_OPTIONS,
                           lambda v: connection(v["uri"], v["user"], v["password"],
                                                v["database"], v["state"]))


def print_hints(title: str, hints: Sequence[tuple[str, str | Sequence[str]]]) -> None:
    """``title``, then per hint its label on one line and each of its commands (or paths, URLs)
    on a line of its own below it, printed whole: Rich never wraps them, so a command copied from
    the screen or a log is the command (a terminal narrower than one only folds it visually)."""
    console.print(f"{title}:", highlight=False)
    for label, commands in hints:
        console.print(f"  {label}", highlight=False)
        for command in [commands] if isinstance(commands, str) else commands:
            console.print(f"    {command}", markup=False, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """``error: <message>`` as one line on stderr (the message is not read as markup)."""
    line = " ".join(message.split("\n"))
    err_console.print(Text.assemble(("error:", "bold red"), " ", line), highlight=False, soft_wrap=True)


@contextmanager
def _one_line_usage() -> Iterator[None]:
    try:
        yield
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # Typer prints the help for it
            raise
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        message = exc.format_message().strip().rstrip(".").replace(": Value error, ", ": ")
        print_error(message + hint)
        raise typer.Exit(exc.exit_code) from None


class OneLineUsageErrors(TyperGroup):
    """Click's own usage errors (a value out of range, a missing flag, an unknown command) as
    one ``error:`` line with exit code 2, like :class:`~fcgraph.errors.BadArgument`."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _one_line_usage():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _one_line_usage():
            return super().invoke(ctx)


def handle_errors(func: F) -> F:
    """Turn :class:`FcgraphError` (and Ctrl-C) into one line on stderr and a non-zero exit:
    2 for a bad flag or argument (:class:`BadArgument`), 1 for bad data or no server, 130 for
    Ctrl-C."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FcgraphError as exc:
            print_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            raise
        except OSError as exc:  # a file or folder that cannot be created, read or written
            where = f"{exc.filename}: " if exc.filename else ""
            print_error(f"{where}{exc.strerror or exc}")
            raise typer.Exit(1) from None
        except (ServiceUnavailable, SessionExpired, IncompleteCommit) as exc:
            print_error(f"the connection to Neo4j was lost ({_first_line(exc)}); check that it "
                        "runs (`fcgraph db status`), then rerun the same command")
            raise typer.Exit(1) from None
        except (Neo4jError, DriverError) as exc:
            print_error(f"Neo4j: {_first_line(exc)}")
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
