"""`fcgraph export RUN --format ... --out DIR`: a run's connectome for NetworkX and other tools;
`fcgraph export-spikes RECORDING --format neo|nwb --out FILE`: its spikes for Neo/Elephant and
NWB/SpikeInterface."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fcgraph.cli.common import (
    condition_names,
    conditions_option,
    connection_options,
    console,
    handle_errors,
)
from fcgraph.cli.progress import task_progress
from fcgraph.errors import BadArgument
from fcgraph.graph.connection import Connection, Graph
from fcgraph.graph.export import ExportFormat, export_run
from fcgraph.record.interop import DEFAULT_BIN_MS, SpikeFormat, export_spikes


def register(app: typer.Typer) -> None:
    """Add `export` to the main app."""
    app.command("export")(export_cmd)
    app.command("export-spikes")(export_spikes_cmd)


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


@handle_errors
def export_spikes_cmd(
    recording: Annotated[Path, typer.Argument(help="The recording folder (written by `fcgraph record`).")],
    fmt: Annotated[SpikeFormat, typer.Option(
        "--format", "-f", help="neo: a NIX file of neo SpikeTrains (Elephant, Viziphant); nwb: an NWB "
        "units table (pynwb, SpikeInterface).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (replaced whole if it exists).",
                                      dir_okay=False)],
    condition: Annotated[list[str] | None, conditions_option(
        "The condition to export, one per file (default: the recording's first).")] = None,
    layer: Annotated[list[str] | None, typer.Option(
        "--layer", "-l", callback=condition_names,
        help="Export only these layers (default: all). Repeatable or comma-separated.")] = None,
    neurons: Annotated[list[str] | None, typer.Option(
        "--neurons", callback=condition_names,
        help="Export only these neurons: uids RUN/LAYER/IDX or LAYER/IDX. Repeatable or "
        "comma-separated.")] = None,
    bin_ms: Annotated[float, typer.Option(
        "--bin-ms", help="Length of one step (bin) in ms; a spike of bin k is at (k + 1/2) x bin.")]
        = DEFAULT_BIN_MS,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Export RECORDING's spikes, one train per neuron, for Neo/Elephant or NWB/SpikeInterface
    (docs/interop.md)."""
    if condition and len(condition) > 1:
        raise BadArgument("--condition", f"one condition per file, got {len(condition)}")
    with task_progress(progress) as update:
        result = export_spikes(recording, fmt, out, condition=condition[0] if condition else None,
                               layers=layer, neurons=neurons, bin_ms=bin_ms, progress=update)
    console.print(f"exported {result.n_neurons} neurons ({result.n_spikes} spikes) of condition "
                  f"{result.condition} as {result.fmt.value} to {result.path}", highlight=False)
