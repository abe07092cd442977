"""`fcgraph export RUN --format ... --out DIR`: a run's connectome for NetworkX and other tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fcgraph.cli.common import (
    conditions_option,
    connection_options,
    console,
    handle_errors,
)
from fcgraph.cli.progress import task_progress
from fcgraph.graph.connection import Connection, Graph
from fcgraph.graph.export import ExportFormat, export_run


def register(app: typer.Typer) -> None:
    """Add `export` to the main app."""
    app.command("export")(export_cmd)


@handle_errors
@connection_options
def export_cmd(
    run_id: Annotated[str, typer.Argument(help="The run to export (its run_id in the graph).")],
    fmt: Annotated[ExportFormat, typer.Option(
        "--format", "-f", help="networkx: node-link JSON; graphml; parquet: nodes + edges tables; "
        "adjacency: one scipy.sparse .npz of z per layer pair and condition.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created).",
                                      file_okay=False)],
    condition: Annotated[list[str] | None, conditions_option(
        "Export only these conditions (default: all).")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    *,
    conn: Connection,
) -> None:
    """Export RUN's live FC graph from Neo4j (read-only); the layout is in OUT/manifest.json."""
    with Graph.open(conn) as graph, task_progress(progress) as update:
        result = export_run(graph, run_id, fmt, out, conditions=condition, progress=update)
    edges = ", ".join(f"{name}: {n}" for name, n in result.n_edges.items()) or "none"
    console.print(f"exported run {run_id} as {fmt.value} to {out}: {result.n_neurons} neurons, "
                  f"edges {edges}; {len(result.files)} files, layout in {out / 'manifest.json'}",
                  highlight=False)
