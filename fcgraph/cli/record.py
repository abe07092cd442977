"""`fcgraph record`: spikes of a trained model's every spiking layer, per condition, into a run folder."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from fcgraph.cli.common import URL_HELP, choices, conditions_option, console, handle_errors, settings_options
from fcgraph.cli.progress import task_progress
from fcgraph.contract import CONDITION_USAGE
from fcgraph.execution import Execution
from fcgraph.names import DATASETS, SPLITS
from fcgraph.paths import DATA_ROOT
from fcgraph.record.layout import CHUNK_IMAGES

if TYPE_CHECKING:
    from fcgraph.record import Recording

CONDITIONS_HELP = (f"Conditions to record: {CONDITION_USAGE} (A, S, E of noise and attacks in "
                   "pixel units 0..1; rK: draw K of the same noise; epoch:E: the weights kept "
                   "after training epoch E, see `fcgraph train --keep-epochs`).")


def register(app: typer.Typer) -> None:
    """Add `record` to the main app."""
    app.command("record")(record_cmd)


@handle_errors
@settings_options(Execution, name="execution", panel="Execution")
def record_cmd(
    model: Annotated[Path, typer.Argument(help="Checkpoint folder written by `fcgraph train`.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Recording (run) folder to write or resume; "
                                                         f"{URL_HELP}.")],
    n_images: Annotated[int, typer.Option("--n-images", "-n", min=1,
                                          help="Record the first N images of the split.")],
    condition: Annotated[list[str], conditions_option(CONDITIONS_HELP)],
    dataset: Annotated[str | None, typer.Option(
        "--dataset", "-d", help=f"Dataset (default: the checkpoint's): {', '.join(DATASETS)}.")
                       ] = None,
    split: Annotated[choices(SPLITS), typer.Option(help="Split to record.")] = "test",
    batch_size: Annotated[int, typer.Option(min=1, help="Images per batch (memory is bounded by it).")
                          ] = 64,
    seed: Annotated[int, typer.Option(help="Seed of noise, attack starts, permutations, untrained weights.")
                    ] = 0,
    run_id: Annotated[str | None, typer.Option(help="Run id (default: from the folder name).")] = None,
    data_root: Annotated[Path | None, typer.Option(
        envvar="FCGRAPH_DATA_ROOT", help=f"Folder of torchvision datasets (default {DATA_ROOT}).",
    )] = None,
    download: Annotated[bool, typer.Option(help="Download a missing torchvision dataset.")] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace a recording with other settings in --out.")
                         ] = False,
    flush_bytes: Annotated[int | None, typer.Option(
        min=1, help="Bytes of packed spikes held in memory between writes (default 16 MiB); a kill "
                    "loses at most the images held.")] = None,
    trials: Annotated[int, typer.Option(
        min=1, help="Present the images this many times (trial-major; noise differs per trial): "
                    "what `fcgraph fc --null trial` needs (3 or more).")] = 1,
    chunk_images: Annotated[int, typer.Option(
        min=1, rich_help_panel="Execution",
        help="Images per task on a Dask cluster (rounded up to whole batches).")] = CHUNK_IMAGES,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    execution: Execution | None = None,
) -> None:
    """Record every spiking layer's spikes under each condition (resumes after a kill)."""
    from fcgraph.mirror import local_run_folder
    from fcgraph.record import open_recording, parse_all, record
    from fcgraph.record.recorder import FLUSH_BYTES

    parse_all(condition)  # one-line errors before the model or data are loaded
    with task_progress(progress) as update:
        record(model, out, condition, n_images, dataset=dataset, split=split, data_root=data_root,
               download=download, batch_size=batch_size, seed=seed, run_id=run_id, overwrite=overwrite,
               command=shlex.join(["fcgraph", *sys.argv[1:]]), flush_bytes=flush_bytes or FLUSH_BYTES,
               trials=trials, progress=update, execution=execution,
               chunk_images=chunk_images)
    with local_run_folder(out) as folder:
        console.print(condition_table(open_recording(folder, verify=False)))
    if execution is not None and execution.distributed:
        console.print(f"recorded in chunks of images on the {execution.describe()}", highlight=False)


def condition_table(rec: Recording) -> Table:
    """Accuracy, attack success, firing rates and time of each recorded condition."""
    images = f"{rec.n_images} images" if rec.trials == 1 else \
        f"{rec.n_images // rec.trials} images x {rec.trials} trials"
    title = f"{rec.path}: {images} x T = {rec.T}, {len(rec.layers)} layers"
    table = Table("condition", "accuracy", "attack success", "firing rate (min-max over layers)",
                  "seconds", title=title)
    for name in rec.conditions:
        info = rec.condition_info(name)
        rates = [layer["firing_rate"] for layer in info["layers"].values()]
        success = info.get("attack_success_rate")
        table.add_row(name, f"{info['accuracy']:.1%}", "" if success is None else f"{success:.1%}",
                      f"{min(rates):.3f} - {max(rates):.3f}", f"{info['seconds']:.1f}")
    return table
