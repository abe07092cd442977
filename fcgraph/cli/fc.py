"""`fcgraph fc`: significant functional edges of every condition and layer pair of a recording."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from fcgraph.cli.common import (
    URL_HELP,
    conditions_option,
    console,
    handle_errors,
    print_hints,
    run_file,
    settings_options,
)
from fcgraph.cli.progress import task_progress
from fcgraph.execution import Execution
from fcgraph.fc.settings import FcParams


def register(app: typer.Typer) -> None:
    """Add `fc` to the main app."""
    app.command("fc")(fc_cmd)


def _z_cell(value: float | None) -> str:
    """The z threshold used, or "fdr" (BH replaces the z threshold)."""
    return "fdr" if value is None or value != value else f"{value:.3f}"


@handle_errors
@settings_options(FcParams, panel="Statistics")
@settings_options(Execution, name="execution", panel="Execution")
def fc_cmd(
    recording: Annotated[str, typer.Argument(help="Recording folder written by `fcgraph record`; "
                                                  f"the fc tables are written into it; {URL_HELP}.")],
    backend: Annotated[str, typer.Option(
        help="auto (CuPy with a usable GPU, else NumPy; the run says which and why), numpy, "
             "torch, torch:cuda, cupy.", rich_help_panel="Execution")] = "auto",
    conditions: Annotated[list[str] | None, conditions_option(
        "Conditions to compute (default: all recorded).", "--conditions", "--condition", "-c")] = None,
    tile: Annotated[int, typer.Option(min=1, help="Post neurons per block (bounds memory).",
                                      rich_help_panel="Execution")] = 1024,
    unit_tiles: Annotated[int, typer.Option(
        min=0, help="On a Dask cluster: split each layer pair into units of N post tiles "
                    "(--tile tested post neurons each), shared by the workers; same files. "
                    "0: a unit per layer pair. Not with --fdr or --dense (a unit per pair).",
        rich_help_panel="Execution")] = 0,
    restart: Annotated[bool, typer.Option(
        help="Discard earlier fc output of the folder (needed to change settings).")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar per layer pair.")] = True,
    params: FcParams | None = None,
    execution: Execution | None = None,
) -> None:
    """Compute significant edges between consecutive spiking layers (resumes after a kill)."""
    from fcgraph.fc.run import compute_run, run_backend

    params = params or FcParams()
    execution = execution or Execution()
    chosen = run_backend(backend, execution, warn=False)  # the first line says why auto fell back
    said = False
    with task_progress(progress) as update:

        def announce_then_update(task: str, done: int, total: int) -> None:
            nonlocal said
            if not said:  # once the input is checked, so that errors stay one line
                where = "" if not execution.distributed else f"; units on the {execution.describe()}"
                console.print(f"backend: {chosen.describe()}{where}", highlight=False)
                said = True
            update(task, done, total)

        summary = compute_run(recording, conditions=conditions, params=params,
                              backend=chosen, tile=tile, restart=restart,
                              progress=announce_then_update, execution=execution,
                              unit_tiles=unit_tiles)
    columns = ["condition", "layer pair", "tested", "untested", "zero SD", "non-finite",
               "z <= -thr", "z thr", "significant", "edges"]
    if params.calibrate:
        columns.append("false-edge rate")
    table = Table(*columns, "seconds", title=f"fc of {recording}: {params.measure}, {params.null} null")
    for row in summary.itertuples(index=False):
        cells = [row.condition, f"{row.pre_layer} -> {row.post_layer}", f"{row.tested:,}",
                 f"{row.untested:,}", f"{row.zero_spread:,}", f"{row.nonfinite:,}",
                 f"{row.negative_tail:,}", _z_cell(row.threshold_z), f"{row.significant:,}",
                 f"{row.edges:,}"]
        if params.calibrate:
            rate = row.false_edge_rate
            cells.append("n/a" if rate is None else f"{rate:.4%} (nominal {row.nominal_rate:.4%})")
        cells.append("resumed" if row.resumed else f"{row.seconds:.1f}")
        table.add_row(*cells)
    console.print(table)
    if summary.resumed.any():
        console.print(f"{int(summary.resumed.sum())} of {len(summary)} layer pairs were finished "
                      "by an earlier run and not recomputed")
    console.print(f"edges: {run_file(recording, 'fc_edges')}; neurons: {run_file(recording, 'fc_neurons')}",
                  highlight=False, soft_wrap=True)
    print_hints("Next", [("ingest with", f"fcgraph ingest {recording}")])
