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


app.add_typer(db.app, name="db")
train.register(app)
record.register(app)
fc.register(app)
ingest.register(app)
query.register(app)
demo.register(app)
analyze.register(app)
view.register(app)
export.register(app)

__all__ = ["app"]
