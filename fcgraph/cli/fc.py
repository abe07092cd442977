"""`fcgraph fc`: significant functional edges of every condition and layer pair of a recording."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fcgraph.cli.common import console, handle_errors
from fcgraph.cli.progress import task_progress


def register(app: typer.Typer) -> None:
    """Add `fc` to the main app."""
    app.command("fc")(fc_cmd)


def _conditions(values: list[str] | None) -> list[str] | None:
    """Repeated and/or comma-separated condition names, in order, or None for all."""
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def _z_cell(value: float | None) -> str:
    """The z threshold used, or "fdr" (BH replaces the z threshold)."""
    return "fdr" if value is None or value != value else f"{value:.3f}"


@handle_errors
def fc_cmd(
    recording: Annotated[Path, typer.Argument(help="Recording folder written by `fcgraph record`; "
                                                   "the fc tables are written into it.")],
    measure: Annotated[str, typer.Option(help="Edge value: sttc (dt = 0), pearson or cofire.")] = "sttc",
    null: Annotated[str, typer.Option(
        help="exact: exact moments over ALL whole-image (--shift-unit T) or bin (--shift-unit 1) "
             "shifts; shift: --n-shifts sampled circular shifts of the post layer.")] = "exact",
    n_shifts: Annotated[int, typer.Option(min=2, help="Shifts of the shift null.")] = 100,
    min_shift: Annotated[int, typer.Option(min=1, help="Smallest shift in bins (shift null).")] = 40,
    shift_unit: Annotated[str, typer.Option(
        help="T: shifts by whole images (keeps the within-image phase); 1: any bin offset.")] = "T",
    min_spikes: Annotated[int, typer.Option(min=0, help="Neurons with fewer spikes are not tested.")
                          ] = 10,
    z: Annotated[float, typer.Option(
        "--z", help="Nominal false-edge rate as a z: its one-sided normal tail (3 -> 0.00135).")
                 ] = 3.0,
    threshold: Annotated[str, typer.Option(
        help="control: per layer pair, the z threshold at which the image-reordered control's "
             "false-edge rate is the nominal one (never below --z; 2-3x the time); "
             "normal: z >= --z (the normal tail; 2-5x too many false edges with few images).")
                         ] = "control",
    control_draws: Annotated[int, typer.Option(
        min=0, help="Control draws (image reorderings) pooled to set each layer pair's control "
                    "threshold; 0: as many as needed to test 2e7 pairs, 1 to 16.")] = 0,
    fdr: Annotated[float | None, typer.Option(
        help="Benjamini-Hochberg level Q per layer pair (replaces --z and --threshold).")] = None,
    top_k: Annotated[int | None, typer.Option(
        min=1, help="Keep each post neuron's K strongest in-edges (by z).")] = None,
    calibrate: Annotated[bool, typer.Option(
        help="Also measure the rule's false-edge rate on an image-reordered negative control "
             "(another draw than those --threshold control sets it from).")] = False,
    pairs: Annotated[str, typer.Option(
        help="consecutive: each spiking layer and the next; feeders: also every declared feeder "
             "(residual inputs).")] = "consecutive",
    candidates: Annotated[str, typer.Option(
        help="all pairs, or receptive-field: for conv layers only pre neurons under the post "
             "neuron's 3x3 kernel (stride = ratio of the spatial sizes).")] = "all",
    backend: Annotated[str, typer.Option(
        help="auto (CuPy with a usable GPU, else NumPy; the run says which and why), numpy, "
             "torch, torch:cuda, cupy.")] = "auto",
    conditions: Annotated[list[str] | None, typer.Option(
        "--conditions", "--condition", "-c",
        help="Conditions to compute (repeatable or comma-separated); default: all recorded.")] = None,
    dense: Annotated[bool, typer.Option(
        help="Also write every pair's cofire, value, null mean, null SD and z as .npy matrices.")
                     ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the shift draw and of the controls' image orders.")
                    ] = 0,
    tile: Annotated[int, typer.Option(min=1, help="Post neurons per block (bounds memory).")] = 1024,
    restart: Annotated[bool, typer.Option(
        help="Discard earlier fc output of the folder (needed to change settings).")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar per layer pair.")] = True,
) -> None:
    """Compute significant edges between consecutive spiking layers (resumes after a kill)."""
    from fcgraph.fc.backend import get_backend
    from fcgraph.fc.run import FcParams, compute_run
    from fcgraph.run_folder import RunFolder

    params = FcParams.create(measure=measure, null=null, n_shifts=n_shifts, min_shift=min_shift,
                             shift_unit=shift_unit, min_spikes=min_spikes, z=z,
                             threshold=threshold, control_draws=control_draws, fdr=fdr,
                             top_k=top_k, calibrate=calibrate, pairs=pairs, candidates=candidates,
                             seed=seed, dense=dense)
    chosen = get_backend(backend, warn=False)  # the run's first line says why auto fell back
    said = False
    with task_progress(progress) as update:

        def announce_then_update(task: str, done: int, total: int) -> None:
            nonlocal said
            if not said:  # once the input is checked, so that errors stay one line
                console.print(f"backend: {chosen.describe()}", highlight=False)
                said = True
            update(task, done, total)

        summary = compute_run(recording, conditions=_conditions(conditions), params=params,
                              backend=chosen, tile=tile, restart=restart,
                              progress=announce_then_update)
    columns = ["condition", "layer pair", "tested", "untested", "zero SD", "non-finite",
               "z <= -thr", "z thr", "significant", "edges"]
    if calibrate:
        columns.append("false-edge rate")
    table = Table(*columns, "seconds", title=f"fc of {recording}: {params.measure}, {params.null} null")
    for row in summary.itertuples(index=False):
        cells = [row.condition, f"{row.pre_layer} -> {row.post_layer}", f"{row.tested:,}",
                 f"{row.untested:,}", f"{row.zero_spread:,}", f"{row.nonfinite:,}",
                 f"{row.negative_tail:,}", _z_cell(row.threshold_z), f"{row.significant:,}",
                 f"{row.edges:,}"]
        if calibrate:
            rate = row.false_edge_rate
            cells.append("n/a" if rate is None else f"{rate:.4%} (nominal {row.nominal_rate:.4%})")
        cells.append("resumed" if row.resumed else f"{row.seconds:.1f}")
        table.add_row(*cells)
    console.print(table)
    if summary.resumed.any():
        console.print(f"{int(summary.resumed.sum())} of {len(summary)} layer pairs were finished "
                      "by an earlier run and not recomputed")
    console.print(f"edges: {RunFolder(recording).fc_edges}; neurons: {RunFolder(recording).fc_neurons}; "
                  f"ingest with `fcgraph ingest {recording}`")
