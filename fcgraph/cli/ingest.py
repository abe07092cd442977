"""`fcgraph ingest` and `fcgraph export-csv`: a run folder into Neo4j, or into import CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fcgraph.cli.common import (
    URL_HELP,
    StateDirOption,
    conditions_option,
    connection_options,
    console,
    err_console,
    handle_errors,
    print_hints,
)
from fcgraph.cli.progress import task_progress
from fcgraph.db.load import BULK_MIN_EDGES, LoadMethod, load_run
from fcgraph.graph.connection import Connection, Graph
from fcgraph.graph.import_files import write_import_files
from fcgraph.graph.ingest import EDGE_BATCH, EDGE_WORKERS, delete_run, list_runs
from fcgraph.paths import state_dir

RunDir = Annotated[str, typer.Argument(help="Run folder (manifest.json, fc/neurons.parquet, "
                                            f"fc/edges/*.parquet); {URL_HELP}.")]
ConditionsOpt = Annotated[list[str] | None, conditions_option(
    "Load only these conditions (default: all).")]
TopKOpt = Annotated[int | None, typer.Option(
    "--top-k", min=1, help="Keep each post neuron's K strongest in-edges (by z).")]
MinZOpt = Annotated[float | None, typer.Option("--min-z", help="Keep only edges with z >= this.")]


def register(app: typer.Typer) -> None:
    """Add `ingest` and `export-csv` to the main app."""
    app.command("ingest")(ingest_cmd)
    app.command("export-csv")(export_csv_cmd)
    app.command("runs")(runs_cmd)
    app.command("delete-run")(delete_run_cmd)


@handle_errors
@connection_options
def ingest_cmd(
    run_dir: RunDir,
    condition: ConditionsOpt = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Swap a loaded condition's edges for the file's (atomic for readers).")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Edges per transaction.")] = EDGE_BATCH,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Concurrent edge transactions.")
                       ] = EDGE_WORKERS,
    top_k: TopKOpt = None,
    min_z: MinZOpt = None,
    method: Annotated[LoadMethod, typer.Option(
        help="online: batched transactions into a running server (any server); bulk: rebuild "
             "the local server's store with neo4j-admin import, beside the live one, then swap "
             f"(fcgraph's own server only); auto: bulk for the local server from "
             f"{BULK_MIN_EDGES:,} edges to load, else online.")] = LoadMethod.auto,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    state: StateDirOption = None,
    *,
    conn: Connection,
) -> None:
    """Load a run folder into Neo4j: validated first, idempotent, resumable after a kill."""
    with task_progress(progress) as update:
        result = load_run(conn, state_dir(state), run_dir, method=method, conditions=condition,
                          top_k=top_k, min_z=min_z, replace=replace, batch_size=batch_size,
                          workers=workers, progress=update, waiting=err_console.print)
    table = Table("condition", "action", "edges", "seconds",
                  title=f"ingested {run_dir} ({result.attrs['method']} path)")
    for row in result.itertuples(index=False):
        table.add_row(row.condition, row.action, f"{row.edges:,}", f"{row.seconds:.1f}")
    console.print(table)


@handle_errors
def export_csv_cmd(
    run_dir: RunDir,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the CSV files.")],
    condition: ConditionsOpt = None,
    top_k: TopKOpt = None,
    min_z: MinZOpt = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Write a run as `neo4j-admin database import` CSV files (for very large graphs)."""
    with task_progress(progress) as update:
        result = write_import_files(run_dir, out, conditions=condition, top_k=top_k, min_z=min_z,
                                  progress=update)
    console.print(f"{result['edges']:,} edges written to {out} (see {out / 'IMPORT.md'})",
                  highlight=False, soft_wrap=True)
    print_hints("Next", [("import with", f"fcgraph db import-csv {out}")])


@handle_errors
@connection_options
def runs_cmd(*, conn: Connection) -> None:
    """List the runs in the graph with their conditions and live edge counts."""
    with Graph.open(conn) as graph:
        frame = list_runs(graph)
    table = Table("run_id", "schema", "conditions", "edges")
    for row in frame.itertuples(index=False):
        table.add_row(row.run_id, str(row.schema_version), ", ".join(sorted(row.conditions)),
                      f"{row.edges:,}")
    console.print(table)


@handle_errors
@connection_options
def delete_run_cmd(
    run_id: Annotated[str, typer.Argument(help="The run to remove from the graph.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    *,
    conn: Connection,
) -> None:
    """Remove a run (its neurons, edges, layers and conditions) from the graph."""
    if not yes:
        typer.confirm(f"delete run {run_id!r} from the graph?", abort=True)
    with Graph.open(conn) as graph:
        delete_run(graph, run_id)
    console.print(f"run {run_id!r} deleted")
