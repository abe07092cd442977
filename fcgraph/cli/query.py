"""`fcgraph query NAME --param key=value ...`: run a named query of the cypher/ library."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from fcgraph.cli.common import (
    connection_options,
    console,
    err_console,
    handle_errors,
)
from fcgraph.contract import neuron_label
from fcgraph.errors import BadArgument
from fcgraph.graph.connection import Connection, Graph
from fcgraph.graph.queries import coerce_params, get_query, list_queries, run_query
from fcgraph.io import plain


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add `query` to the main app."""
    app.command("query")(query_cmd)


def parse_param_options(items: list[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}``; :class:`BadArgument` on an item without ``=``."""
    params: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadArgument(f"--param {item!r}", "expected key=value")
        params[key.strip()] = value
    return params


def _cell(value: Any) -> str:
    """One value as table text: floats to 4 significant digits, lists joined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def _is_neuron_column(name: str) -> bool:
    """Whether a column holds neuron uids (``uid``, ``*_uid``) or a path of them (``path``)."""
    return name in ("uid", "path") or name.endswith("_uid")


def _neuron_cell(value: Any) -> str:
    """Neuron uids as short labels (:func:`~fcgraph.contract.neuron_label`), a path joined by
    arrows."""
    if isinstance(value, list | tuple):
        return " > ".join(_neuron_cell(v) for v in value)
    return neuron_label(value) if isinstance(value, str) else _cell(value)


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as plain dicts (what ``--format json`` prints)."""
    return [{col: plain(v) for col, v in zip(frame.columns, row, strict=True)}
            for row in frame.itertuples(index=False, name=None)]


def render(frame: pd.DataFrame, fmt: OutputFormat, title: str) -> None:
    """Print ``frame``: a rich table, or clean CSV / JSON on stdout (lists as JSON arrays).

    A frame whose answer counts loaded edges (``attrs["complete"]``, see
    :func:`fcgraph.graph.queries.subset_warning`) gets a warning line on stderr when the graph
    holds a subset, and in JSON a ``complete`` field in every record."""
    if frame.attrs.get("warning"):
        err_console.print(f"warning: {frame.attrs['warning']}", markup=False, highlight=False,
                          soft_wrap=True)
    if fmt is OutputFormat.json:
        records = frame_records(frame)
        if "complete" in frame.attrs:
            records = [{**r, "complete": bool(frame.attrs["complete"])} for r in records]
        typer.echo(json.dumps(records, indent=1, allow_nan=False))
        return
    if fmt is OutputFormat.csv:
        out = frame.copy()
        for col in out.columns:
            if any(isinstance(v, list | tuple) for v in out[col]):
                out[col] = [json.dumps(plain(v)) for v in out[col]]
        typer.echo(out.to_csv(index=False), nl=False)
        return
    neurons = [_is_neuron_column(str(col)) for col in frame.columns]
    note = "; neurons as layer/index" if any(neurons) else ""
    table = Table(title=f"{title} ({len(frame)} rows{note})", title_justify="left")
    for col in frame.columns:
        table.add_column(str(col), overflow="fold")
    for row in frame.itertuples(index=False, name=None):
        table.add_row(*[_neuron_cell(v) if neuron else _cell(v)
                        for v, neuron in zip(row, neurons, strict=True)])
    target = console if console.is_terminal else Console(width=240)
    target.print(table)


def choose_columns(frame: pd.DataFrame, columns: str | None, default: tuple[str, ...] = ()
                   ) -> pd.DataFrame:
    """``frame`` with the comma-separated ``columns`` only, in that order (``--columns``), else
    with ``default`` (a query's table columns; empty: all); its ``attrs`` kept."""
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else list(default)
    if not wanted:
        return frame
    unknown = [c for c in wanted if c not in frame.columns]
    if unknown and columns:
        raise BadArgument("--columns", f"no column {unknown[0]!r} (columns: "
                                       f"{', '.join(map(str, frame.columns))})")
    chosen = frame[[c for c in wanted if c in frame.columns]].copy()
    chosen.attrs = dict(frame.attrs)
    return chosen


def _print_list(name: str | None) -> None:
    """One line per query; with NAME, one line per parameter of that query."""
    if name is None:
        for row in list_queries().itertuples(index=False):
            typer.echo(f"{row.name:<14} {row.description}")
        return
    for param in get_query(name).params.values():
        typer.echo(f"{param.describe():<44} {param.help}".rstrip())


@handle_errors
@connection_options
def query_cmd(
    name: Annotated[str | None, typer.Argument(
        help="Query name (see --list), e.g. ensemble, pathways, edge_loss.")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="A query parameter as key=value (repeatable).")] = None,
    fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f", help="table, or csv / json on stdout for pipes.")] = OutputFormat.table,
    show_cypher: Annotated[bool, typer.Option(
        "--show-cypher", help="Print the Cypher and its parameters (on stderr unless a table).")]
        = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check the parameters (and print with --show-cypher); do not run.")]
        = False,
    list_: Annotated[bool, typer.Option(
        "--list", help="List the queries, or with NAME the query's parameters.")] = False,
    timeout: Annotated[float | None, typer.Option(
        min=0.1, help="Transaction timeout in seconds (default: the query's own, if any).")]
        = None,
    columns: Annotated[str | None, typer.Option(
        help="Columns to print, comma-separated, in that order (default: all; a table shows the "
             "query's usual ones, and says how many more there are).")] = None,
    *,
    conn: Connection,
) -> None:
    """Run a named query of the cypher/ library and print its table (read-only)."""
    if list_:
        _print_list(name)
        return
    if name is None:
        raise BadArgument("NAME", "give a query name (see `fcgraph query --list`)")
    spec = get_query(name)
    values = coerce_params(name, parse_param_options(param))
    if show_cypher:
        out = console if fmt is OutputFormat.table else err_console
        out.print(spec.text.rstrip(), markup=False, highlight=False, soft_wrap=True)
        out.print(f"// parameters: {json.dumps(values)}", markup=False, highlight=False,
                  soft_wrap=True)
    if dry_run:
        return
    with Graph.open(conn) as graph:
        frame = run_query(graph, name, values, timeout=timeout)
    shown = choose_columns(frame, columns, spec.table if fmt is OutputFormat.table else ())
    render(shown, fmt, name)
    if shown.shape[1] < frame.shape[1] and not columns:
        err_console.print(f"{shown.shape[1]} of {frame.shape[1]} columns shown; all of them with "
                          f"--columns {','.join(map(str, frame.columns))}, or --format csv / json",
                          highlight=False, soft_wrap=True)
