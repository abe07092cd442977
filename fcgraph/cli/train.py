"""`fcgraph train`: train a spiking ResNet into a checkpoint folder (resumable, deterministic on CPU)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fcgraph.cli.common import choices, console, handle_errors, option_panels
from fcgraph.cli.progress import on_terminal, task_progress
from fcgraph.names import ARCHITECTURES, DATASETS, NEURON_TYPES
from fcgraph.paths import DATA_ROOT


def register(app: typer.Typer) -> None:
    """Add `train` to the main app."""
    app.command("train")(train_cmd)


@contextmanager
def epoch_display(epochs: int, enabled: bool = True) -> Iterator[tuple[Callable, Callable, list[dict]]]:
    """A progress bar over each epoch's batches (in a log: the lines of
    :func:`~fcgraph.cli.progress.task_progress`, every ``FCGRAPH_PROGRESS_SECONDS``) and a line
    per finished epoch.

    Yields ``(on_batch, on_epoch, ran)`` for :func:`fcgraph.models.train.train`; ``ran`` collects
    the records of the epochs run (empty when the checkpoint was already complete).
    """
    ran: list[dict] = []

    def on_epoch(record: dict) -> None:
        ran.append(record)
        console.print(f"epoch {record['epoch']:>3}/{epochs}  loss {record['train_loss']:.4f}  "
                      f"train {record['train_accuracy']:.2%}  test {record['test_accuracy']:.2%}  "
                      f"({record['seconds']:.1f} s)", highlight=False, soft_wrap=True)

    if enabled and not on_terminal():
        with task_progress() as update:

            def log_batch(epoch: int, done: int, total: int, loss: float, acc: float) -> None:
                update(f"train epoch {epoch}/{epochs}", done, total)

            yield log_batch, on_epoch, ran
        return
    columns = (TextColumn("epoch {task.fields[epoch]}/" + str(epochs)), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.1%}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not enabled) as bar:
        task = bar.add_task("train", total=None, epoch=0, loss=0.0, acc=0.0)

        def on_batch(epoch: int, done: int, total: int, loss: float, acc: float) -> None:
            bar.update(task, completed=done, total=total, epoch=epoch, loss=loss, acc=acc)

        yield on_batch, on_epoch, ran


@handle_errors
@option_panels({"Model": ("model", "T", "neuron", "tau", "v_threshold"),
                "Training": ("epochs", "batch_size", "lr", "weight_decay", "seed",
                                             "keep_epochs"),
                "Data": ("dataset", "train_limit", "test_limit", "data_root", "download")})
def train_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint folder to write (or resume).")],
    model: Annotated[choices(ARCHITECTURES), typer.Option("--model", "-m", help="Architecture.")
                     ] = "sew-small",
    dataset: Annotated[str, typer.Option("--dataset", "-d", help=f"Dataset: {', '.join(DATASETS)}.")
                       ] = "digits",
    epochs: Annotated[int, typer.Option(min=1, help="Epochs (the cosine schedule spans them).")] = 8,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per batch.")] = 64,
    lr: Annotated[float, typer.Option(min=0.0, help="Adam's initial learning rate.")] = 1e-3,
    weight_decay: Annotated[float, typer.Option(min=0.0, help="Adam weight decay.")] = 0.0,
    T: Annotated[int, typer.Option("--T", "-T", min=1, help="Time steps per image.")] = 8,
    neuron: Annotated[choices(NEURON_TYPES), typer.Option(
        help="Neuron: parametric LIF, LIF or IF.")] = "plif",
    tau: Annotated[float, typer.Option(help="Membrane time constant (initial tau for plif).")] = 2.0,
    v_threshold: Annotated[float, typer.Option(help="Firing threshold.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the initial weights and the batch order.")] = 0,
    keep_epochs: Annotated[str | None, typer.Option(
        help="Also keep the weights after these epochs (comma-separated, e.g. 1,3): what "
             "`fcgraph record --condition epoch:E` records.")] = None,
    train_limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N training images.")
                           ] = None,
    test_limit: Annotated[int | None, typer.Option(min=1, help="Test on only the first N test images.")
                          ] = None,
    data_root: Annotated[Path | None, typer.Option(
        envvar="FCGRAPH_DATA_ROOT", help=f"Folder of torchvision datasets (default {DATA_ROOT}).",
    )] = None,
    download: Annotated[bool, typer.Option(help="Download a missing torchvision dataset.")] = True,
    restart: Annotated[bool, typer.Option(help="Discard a checkpoint in --out and start over.")] = False,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Train a model with Adam and a cosine schedule; rerun the same command to resume after a kill."""
    from fcgraph.models.checkpoint import kept_epochs
    from fcgraph.models.neurons import NeuronSpec
    from fcgraph.models.registry import ModelConfig
    from fcgraph.models.train import TrainConfig, parse_epochs, train

    spec = NeuronSpec(kind=neuron, tau=tau, v_threshold=v_threshold)
    ModelConfig(architecture=model, T=T, neuron=spec)  # checks the names before any data is loaded
    config = TrainConfig(architecture=model, dataset=dataset, epochs=epochs, batch_size=batch_size, lr=lr,
                         weight_decay=weight_decay, T=T, neuron=spec, seed=seed,
                         train_limit=train_limit, test_limit=test_limit,
                         keep_epochs=parse_epochs(keep_epochs) if keep_epochs else ())
    with epoch_display(epochs, progress) as (on_batch, on_epoch, ran):
        result = train(config, out, data_root=data_root, download=download, restart=restart,
                       on_batch=on_batch, on_epoch=on_epoch)
    metrics = result["metrics"]
    note = "" if ran else " (already trained; nothing to do)"
    console.print(f"[bold]{out}[/]: {model} on {dataset}, {metrics['epochs_done']} epochs, "
                  f"test accuracy {metrics['test_accuracy']:.2%}, "
                  f"{metrics['train_seconds']:.0f} s of training{note}", highlight=False, soft_wrap=True)
    if keep_epochs:
        kept = kept_epochs(out)
        console.print(f"weights kept after epoch {', '.join(map(str, kept)) or 'none'} "
                      "(record them with --condition epoch:E)", highlight=False, soft_wrap=True)
