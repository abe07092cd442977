"""The `fcgraph` command: a thin Typer layer over the Python API of each stage."""

from __future__ import annotations

from typing import Annotated

import typer

from fcgraph import SCHEMA_VERSION, __version__
from fcgraph.cli import analyze, db, demo, export, fc, ingest, query, record, train, view
from fcgraph.cli.common import OneLineUsageErrors

app = typer.Typer(
    cls=OneLineUsageErrors,
    help="Functional connectomes of deep spiking networks, stored and queried in Neo4j.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"fcgraph {__version__} (graph schema version {SCHEMA_VERSION})")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and the graph schema version, then exit.")] = False) -> None:
    """Functional connectomes of deep spiking networks, stored and queried in Neo4j."""


for module in (train, record, fc, ingest, query, demo, analyze, view, export):
    module.register(app)
app.add_typer(db.app, name="db", rich_help_panel="Database")

#: The groups of `fcgraph --help`, each command in one.
COMMAND_PANELS = {
    "Pipeline stages (in order; demo runs them all)": (
        "demo", "train", "record", "fc", "analyze", "report", "ingest", "export-csv"),
    "The graph": ("runs", "query", "view", "export", "delete-run"),
    "Data exchange": ("export-spikes",),
}
_ORDER = {name: (i, panel) for i, (panel, name) in enumerate(
    (panel, name) for panel, names in COMMAND_PANELS.items() for name in names)}
app.registered_commands.sort(key=lambda info: _ORDER[info.name][0])  # the help lists them so
for info in app.registered_commands:
    info.rich_help_panel = _ORDER[info.name][1]

__all__ = ["app"]
