"""The `fcgraph` command: a thin Typer layer over the Python API of each stage."""

from __future__ import annotations

import typer

from fcgraph.cli import analyze, db, demo, export, fc, ingest, query, record, train, view
from fcgraph.cli.common import OneLineUsageErrors

app = typer.Typer(
    cls=OneLineUsageErrors,
    help="Functional connectomes of deep spiking networks, stored and queried in Neo4j.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
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
