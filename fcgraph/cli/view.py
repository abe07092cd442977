"""`fcgraph view RUN --neuron UID | --pathway UID LAYER | --layer-pair PRE POST`: offline HTML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from fcgraph.cli.common import (
    conditions_option,
    connection_options,
    console,
    handle_errors,
)
from fcgraph.errors import BadArgument
from fcgraph.graph.connection import Connection, Graph
from fcgraph.viz.view import layer_pair_subgraph, neuron_subgraph, pathway_subgraph, write_view


def register(app: typer.Typer) -> None:
    """Add `view` to the main app."""
    app.command("view")(view_cmd)


def _given(pair: tuple[str, str] | None) -> tuple[str, str] | None:
    return pair if pair and all(pair) else None


@handle_errors
@connection_options
def view_cmd(
    run_id: Annotated[str, typer.Argument(help="The run (its run_id in the graph).")],
    neuron: Annotated[str | None, typer.Option(
        "--neuron", metavar="UID", help="A neuron, its 1FC group and its downstream targets.")] = None,
    pathway: Annotated[tuple[str, str] | None, typer.Option(
        "--pathway", metavar="UID LAYER",
        help="The k strongest paths from neuron UID to layer LAYER.")] = None,
    layer_pair: Annotated[tuple[str, str] | None, typer.Option(
        "--layer-pair", metavar="PRE POST", help="The strongest edges from layer PRE to POST.")] = None,
    condition: Annotated[list[str] | None, conditions_option(
        "Conditions to draw (default clean).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many edges per direction / condition.",
                                       min=1)] = 200,
    k: Annotated[int, typer.Option("-k", help="Paths per condition (--pathway).", min=1)] = 10,
    min_z: Annotated[float | None, typer.Option(help="Follow only edges with z >= this (--pathway).")
                     ] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="HTML file to write (default view-RUN-....html here).", dir_okay=False)] = None,
    *,
    conn: Connection,
) -> None:
    """Write a self-contained HTML page of a subgraph (canvas with zoom, search and filters; no network)."""
    pathway, layer_pair = _given(pathway), _given(layer_pair)
    chosen = [name for name, v in (("--neuron", neuron), ("--pathway", pathway),
                                   ("--layer-pair", layer_pair)) if v]
    if len(chosen) != 1:
        given = ", ".join(chosen) or "none"
        raise BadArgument("--neuron/--pathway/--layer-pair", "give exactly one of --neuron UID, "
                          f"--pathway UID LAYER, --layer-pair PRE POST (given: {given})")
    conditions = condition or ["clean"]
    with Graph.open(conn) as graph, console.status("reading the subgraph"):
        if neuron:
            sub = neuron_subgraph(graph, run_id, neuron, conditions, limit=limit)
            slug = neuron
        elif pathway:
            sub = pathway_subgraph(graph, run_id, pathway[0], pathway[1], conditions, k=k,
                                   min_z=min_z)
            slug = f"{pathway[0]}-to-{pathway[1]}"
        else:
            assert layer_pair is not None
            sub = layer_pair_subgraph(graph, run_id, layer_pair[0], layer_pair[1], conditions,
                                      limit=limit)
            slug = f"{layer_pair[0]}-{layer_pair[1]}"
    if out is None:
        out = Path(re.sub(r"[^A-Za-z0-9_.-]+", "_", f"view-{run_id}-{slug}") + ".html")
    write_view(sub, out)
    console.print(f"{len(sub.nodes)} neurons, {len(sub.edges)} FC edges -> {out} "
                  f"(open it in any browser; no network needed)", highlight=False)
