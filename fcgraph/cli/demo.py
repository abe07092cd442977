"""`fcgraph demo`: the main job end to end on what exists today.

Until the recording and fc stages land, the demo builds a synthetic layered connectome with
known structure (`fcgraph.synthetic`), starts the local Neo4j unless NEO4J_URI points elsewhere,
ingests it, and prints the answers of a few named queries.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fcgraph.cli.common import StateDirOption, console, handle_errors
from fcgraph.cli.progress import task_progress
from fcgraph.contract import MANIFEST
from fcgraph.graph import server
from fcgraph.graph.connection import resolve_connection, session_driver
from fcgraph.graph.ingest import ingest_run
from fcgraph.paths import state_dir
from fcgraph.synthetic import make_synthetic_run

DEMO_RUN = "demo-synthetic"


def register(app: typer.Typer) -> None:
    """Add `demo` to the main app."""
    app.command("demo")(demo_cmd)


def _print_frame(title: str, frame, limit: int = 8, columns: list[str] | None = None) -> None:
    frame = frame[columns] if columns else frame
    table = Table(title=title, title_justify="left")
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)
    if len(frame) > limit:
        console.print(f"  ... {len(frame) - limit} more rows")


@handle_errors
def demo_cmd(
    out: Annotated[Path, typer.Option(help="Where the demo's run folder is written.")] = Path(
        "runs") / DEMO_RUN,
    state: StateDirOption = None,
    bolt_port: Annotated[int, typer.Option(help="Bolt port if the local Neo4j is started.")] = 7687,
    http_port: Annotated[int, typer.Option(help="HTTP port if the local Neo4j is started.")] = 7474,
) -> None:
    """Build a synthetic connectome, load it into Neo4j and answer named queries about it."""
    from fcgraph.graph.queries import run_query
    state_path = state_dir(state)
    console.rule("[bold]1. a layered connectome with known structure")
    if (out / MANIFEST).exists():
        console.print(f"reusing {out}")
    else:
        make_synthetic_run(out, DEMO_RUN, conditions=("clean", "uniform:0.2"), fan_in=8)
        console.print(f"wrote {out} (5 layers, clean and uniform:0.2 edge tables)")
    console.rule("[bold]2. Neo4j")
    if os.environ.get("NEO4J_URI"):
        conn = resolve_connection(state_dir=state_path)
        console.print(f"using NEO4J_URI={conn.uri}")
    else:
        with console.status("starting the local Neo4j (the first start fetches it)"):
            st = server.start(state_path, bolt_port=bolt_port, http_port=http_port)
        console.print(f"local Neo4j {st.version} at {st.uri}")
        conn = server.local_connection(state_path)
    console.rule("[bold]3. ingest")
    with session_driver(conn) as driver:
        with task_progress(True) as update:
            result = ingest_run(driver, out, database=conn.database, progress=update)
        _print_frame("conditions", result)
        console.rule("[bold]4. named queries")
        _print_frame("layer_summary", run_query(driver, "layer_summary",
                                                {"run_id": DEMO_RUN}, conn.database), 12,
                     ["pre_layer", "post_layer", "condition", "edges", "density", "mean_z"])
        _print_frame("edge_loss under uniform:0.2",
                     run_query(driver, "edge_loss", {"run_id": DEMO_RUN,
                                                     "condition": "uniform:0.2"}, conn.database),
                     columns=["pre_layer", "post_layer", "baseline_edges", "kept", "lost",
                              "gained", "lost_fraction", "jaccard"])
        uid = f"{DEMO_RUN}/fc1.sn/0"
        _print_frame(f"ensemble of {uid} (its 1FC group)",
                     run_query(driver, "ensemble", {"run_id": DEMO_RUN, "uid": uid},
                               conn.database),
                     columns=["pre_uid", "z", "value", "cofire", "null_mean", "null_sd"])
        _print_frame("hubs (largest out-degree per layer)",
                     run_query(driver, "hubs", {"run_id": DEMO_RUN, "direction": "out",
                                                "top": 1}, conn.database),
                     columns=["layer", "uid", "degree", "mean_z", "max_z"])
    console.rule("[bold]5. explore")
    console.print(f"""Neo4j is running at {conn.uri}; credentials: `fcgraph db credentials`.
  fcgraph query --list                                  the named queries
  fcgraph query ensemble -p run_id={DEMO_RUN} -p uid={uid}
  eval "$(fcgraph db credentials --show)"; cypher-shell, notebooks and drivers use NEO4J_*
  fcgraph db stop                                       when you are done""", highlight=False)
