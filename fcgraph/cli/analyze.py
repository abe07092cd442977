"""`fcgraph analyze` and `fcgraph report`: the five findings tested on a run, and its HTML report."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from fcgraph.cli.common import URL_HELP, conditions_option, console, handle_errors, run_file, settings_options
from fcgraph.cli.progress import task_progress
from fcgraph.execution import Execution

Recording = Annotated[str, typer.Argument(help="Recording folder with its fc edge tables "
                                               f"(`fcgraph record`, then `fcgraph fc`); {URL_HELP}.")]


def register(app: typer.Typer) -> None:
    """Add `analyze` and `report` to the main app."""
    app.command("analyze")(analyze_cmd)
    app.command("report")(report_cmd)


@handle_errors
@settings_options(Execution, name="execution")
def analyze_cmd(
    recording: Recording,
    max_neurons: Annotated[int, typer.Option(
        min=0, help="Post neurons analysed per layer (seeded sample of those with a group); "
                    "0 = all.")] = 128,
    min_group: Annotated[int, typer.Option(min=1, help="Smallest 1FC group analysed.")] = 3,
    min_spikes: Annotated[int, typer.Option(min=0, help="Fewest clean spikes of an analysed "
                                                        "neuron.")] = 10,
    percentile: Annotated[float, typer.Option(min=0, max=100, help="Event threshold: percentile "
                                                                   "of the neuron's k(t).")] = 95.0,
    n_boot: Annotated[int, typer.Option(min=0, help="Bootstrap resamples (whole images) per "
                                                    "clean fit.")] = 200,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds of the read-out.")] = 5,
    n_shuffle: Annotated[int, typer.Option(min=0, help="Label shuffles of the read-out (chance level).")] = 1,
    alpha: Annotated[float, typer.Option(min=0, max=1, help="Level of the in-sample F "
                                                            "test (threshold-linear beats linear) "
                                                            "and of the one-sided bound of a "
                                                            "ReLU-like curve's held-out gain "
                                                            "over the line.")] = 0.01,
    seed: Annotated[int, typer.Option(help="Seed of the neuron sample, bootstraps, CV.")] = 0,
    condition: Annotated[list[str] | None, conditions_option(
        "Analyse only these conditions besides clean.")] = None,
    replicate: Annotated[list[str] | None, typer.Option(
        "--replicate", help="Recording of another independently trained network on the same "
                            "images, with its fc edges (repeatable): a finding must hold in it "
                            "too.")] = None,
    restart: Annotated[bool, typer.Option(help="Discard saved partial results.")] = False,
    report: Annotated[bool, typer.Option(help="Also write analysis/report.html.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    execution: Execution | None = None,
) -> None:
    """Test the paper's five findings on a run: groups, input-output curves, events and decoding,
    perturbations. Writes RECORDING/analysis/ (analysis.json, neurons.parquet, figures/)."""
    from fcgraph.analysis import AnalysisConfig, analyze_run
    from fcgraph.analysis.report import write_report

    config = AnalysisConfig(max_neurons=max_neurons or None, min_group=min_group,
                            min_spikes=min_spikes, percentile=percentile, n_boot=n_boot,
                            folds=folds, n_shuffle=n_shuffle, alpha=alpha, seed=seed,
                            conditions=tuple(condition) if condition else None)
    with task_progress(progress) as update:
        analysis = analyze_run(recording, config, replicates=replicate or (), progress=update,
                               restart=restart, execution=execution)
    console.print(findings_table(analysis["findings"], f"findings: {recording}"))
    trajectory = training_table(analysis["findings"])
    if trajectory is not None:
        console.print(trajectory)
    console.print(f"wrote {run_file(recording, 'analysis_json')}, "
                  f"{run_file(recording, 'analysis_neurons')}, {run_file(recording, 'figures')}")
    if report:
        write_report(recording)
        console.print(f"wrote {run_file(recording, 'report')}")


def findings_table(found: list[dict], title: str) -> Table:
    """The findings as a Rich table: verdict and reason, statistic with its CI, and the
    trained - control contrast against each control network."""
    from fcgraph.analysis.findings import summary_frame

    table = Table("#", "supported", "statistic = value [95% CI]",
                  "trained - control [95% CI] (+: exceeds)", title=title, title_justify="left")
    for row in summary_frame(found).itertuples(index=False):
        table.add_row(*row)
    return table


def training_table(found: list[dict]) -> Table | None:
    """Finding 5's training trajectory as a Rich table (None when the run recorded no network of
    the training besides the trained one): each network's accuracy, average decoding and
    trained - network contrasts [95% CI]; reported, gating no verdict."""
    from fcgraph.analysis.findings.f5_learning import TRAJECTORY_FINDINGS, reported_trajectory

    training = reported_trajectory(found)
    if training is None:
        return None

    def num(v: float | None) -> str:
        return "–" if v is None else f"{v:.3g}"

    def contrast(c: dict | None) -> str:
        return "" if not c else f"{num(c.get('value'))} [{num(c.get('lo'))}, {num(c.get('hi'))}]"

    rho = training.get("spearman_rho")
    table = Table("epoch", "network", "accuracy", "average decoding",
                  *[f"{fid}: trained - network" for fid in TRAJECTORY_FINDINGS],
                  title="training trajectory (finding 5; reported, gates no verdict); Spearman rho "
                        f"of decoding against epoch: {num(rho)}", title_justify="left")
    for r in training["networks"]:
        table.add_row(str(r["epoch"]), r["network"], num(r.get("accuracy")),
                      num(r.get("average_decoding")),
                      *[contrast(r["contrasts"].get(fid)) for fid in TRAJECTORY_FINDINGS])
    return table


@handle_errors
def report_cmd(recording: Recording) -> None:
    """Write RECORDING/analysis/report.html (one self-contained file) from analysis.json."""
    from fcgraph.analysis.report import write_report

    write_report(recording)
    console.print(f"wrote {run_file(recording, 'report')}")
