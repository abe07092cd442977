"""`fcgraph demo`: the main job end to end (train, record, fc, analyze, report, ingest, query).

A thin layer over :mod:`fcgraph.demo`: it prints each step, its progress and its answers.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fcgraph.cli.common import (
    StateDirOption,
    choices,
    conditions_option,
    console,
    handle_errors,
    option_panels,
    print_hints,
)
from fcgraph.cli.progress import task_progress
from fcgraph.db import server
from fcgraph.demo import DEMO_CONDITIONS, DemoPlan
from fcgraph.fc.backend import get_backend
from fcgraph.graph.connection import Connection, Graph, resolve_connection
from fcgraph.names import ARCHITECTURES, DATASETS, SPLITS
from fcgraph.paths import state_dir
from fcgraph.run_folder import RunFolder


def register(app: typer.Typer) -> None:
    """Add `demo` to the main app."""
    app.command("demo")(demo_cmd)


def print_frame(title: str, frame, limit: int = 10) -> None:
    """A DataFrame as a Rich table (first ``limit`` rows; floats to 3 significant digits)."""
    table = Table(title=title, title_justify="left")
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)
    if len(frame) > limit:
        console.print(f"  ... {len(frame) - limit} more rows")


def _connect(state: Path, bolt_port: int, http_port: int) -> tuple[Connection, str, str | None]:
    """The configured Neo4j (NEO4J_URI), else the local one, started if needed: the connection,
    a line saying which, and the Browser URL (local server only). Safe to run in a thread."""
    if os.environ.get("NEO4J_URI"):
        conn = resolve_connection(state_dir=state)
        return conn, f"using NEO4J_URI={conn.uri}", None
    st = server.start(state, bolt_port=bolt_port, http_port=http_port)
    return server.local_connection(state), f"local Neo4j {st.version} at {st.uri}", st.browser_url


@handle_errors
@option_panels({"Training": ("dataset", "model", "epochs", "lr", "train_limit"),
                "Recording": ("split", "n_images", "condition"),
                "Neo4j": ("top_k", "state", "bolt_port", "http_port")})
def demo_cmd(
    root: Annotated[Path, typer.Option("--root", help="Folder of the demo's checkpoint and run.")
                    ] = Path("runs/demo"),
    dataset: Annotated[str, typer.Option("--dataset", "-d", help=f"{', '.join(DATASETS)} (digits "
                                         "needs no download).")] = "digits",
    model: Annotated[choices(ARCHITECTURES), typer.Option("--model", "-m", help="Architecture to train.")
                     ] = "sew-small",
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 6,
    lr: Annotated[float, typer.Option(min=0.0, help="Adam's initial learning rate.")] = 1e-3,
    train_limit: Annotated[int | None, typer.Option(min=1, help="Train on the first N images only.")
                           ] = None,
    split: Annotated[choices(SPLITS), typer.Option(help="Split whose images are recorded.")] = "test",
    n_images: Annotated[int | None, typer.Option(min=1, help="Record the first N images of the split.")
                        ] = 240,
    condition: Annotated[list[str] | None, conditions_option(
        f"Conditions (default {' '.join(DEMO_CONDITIONS)}).")] = None,
    top_k: Annotated[int, typer.Option(min=0, help="Load only each neuron's K strongest in-edges "
                                       "per condition into Neo4j (0: every edge).")] = 0,
    state: StateDirOption = None,
    bolt_port: Annotated[int, typer.Option(help="Bolt port if the local Neo4j is started.")] = 7687,
    http_port: Annotated[int, typer.Option(help="HTTP port if the local Neo4j is started.")] = 7474,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train a spiking ResNet, record it under noise, attack and permutation, compute its functional
    connectome, test the paper's findings, load it into Neo4j and answer named queries.

    Rerunning reuses every finished step."""
    from fcgraph import demo
    from fcgraph.cli.record import condition_table
    from fcgraph.cli.train import epoch_display
    from fcgraph.record import open_recording

    plan = DemoPlan(root=root, dataset=dataset, model=model, epochs=epochs, lr=lr, train_limit=train_limit,
                    split=split, n_images=n_images, conditions=tuple(condition or DEMO_CONDITIONS),
                    top_k=top_k or None)
    started = time.monotonic()

    console.rule(f"[bold]1/6 train {model} on {dataset}")
    with epoch_display(epochs, progress) as (on_batch, on_epoch, ran):
        config = demo.train_step(plan, on_batch, on_epoch)
    metrics = config["metrics"]
    console.print(f"{plan.checkpoint}: test accuracy {metrics['test_accuracy']:.1%}"
                  f"{'' if ran else ' (reused)'}", highlight=False)

    # Neo4j starts in the background (its own process) while the network is recorded and analysed
    neo4j_ready = ThreadPoolExecutor(1).submit(_connect, state_dir(state), bolt_port, http_port)

    console.rule("[bold]2/6 record every spiking layer under each condition")
    with task_progress(progress) as update:
        demo.record_step(plan, update)
    rec = open_recording(plan.recording, verify=False)
    console.print(condition_table(rec))

    console.rule(f"[bold]3/6 functional connectivity ({plan.null} null; all significant edges on disk)")
    backend = get_backend(plan.fc_options.get("backend", "auto"), warn=False)
    console.print(f"backend: {backend.describe()}", highlight=False)
    with task_progress(progress) as update:
        summary = demo.fc_step(plan, update, backend)
    per_condition = summary.groupby("condition", sort=False).agg(
        layer_pairs=("pre_layer", "size"), tested=("tested", "sum"), significant=("significant", "sum"),
        seconds=("seconds", "sum")).reset_index()
    per_condition["density"] = per_condition.significant / per_condition.tested.clip(lower=1)
    print_frame("significant edges per condition (all layer pairs)", per_condition)

    console.rule("[bold]4/6 analysis: the five findings")
    with task_progress(progress) as update:
        result = demo.analysis_step(plan, update)
    findings = result.get("findings", [])
    if findings:
        from fcgraph.cli.analyze import findings_table

        console.print(findings_table(findings, "the paper's findings on this run, against its "
                                               "controls (criteria: README, analysis.json)"))
    console.print(f"report: {RunFolder(plan.recording).report}")

    console.rule("[bold]5/6 Neo4j: load " + (f"each neuron's {top_k} strongest in-edges per condition"
                                             if top_k else "every significant edge"))
    with console.status("waiting for Neo4j (the first start fetches it from Maven Central)"):
        conn, which, browser = neo4j_ready.result()
    console.print(which)
    with task_progress(progress) as update:
        loaded = demo.ingest_step(conn, state_dir(state), plan, update)
    print_frame(f"loaded ({loaded.attrs['method']} path)", loaded)
    with Graph.open(conn) as graph:
        console.rule("[bold]6/6 named queries")
        for title, frame in demo.example_queries(graph, rec.run_id, plan.conditions):
            print_frame(title, frame)

    minutes = (time.monotonic() - started) / 60
    console.rule(f"[bold]done in {minutes:.1f} min")
    print_hints("Browse", [
        ("the report", str(RunFolder(plan.recording).report)),
        ("Neo4j Browser (user neo4j; the password: `fcgraph db credentials --show`)",
         browser or conn.uri),
        ("the offline view of a layer pair", f"fcgraph view {rec.run_id} --layer-pair fc1.sn fc2.sn "
                                             "--out view.html"),
        ("the named queries", ["fcgraph query --list", f"fcgraph query hubs -p run_id={rec.run_id}"]),
        ("a sample, lighter to browse", f"fcgraph ingest {plan.recording} --replace --top-k 5"),
        ("stop Neo4j", "fcgraph db stop")])
