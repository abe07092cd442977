"""The CLI over the ingest and export APIs: exit codes, one-line errors, real results."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fcgraph.cli import app
from fcgraph.graph.ingest import delete_run
from fcgraph.synthetic import make_synthetic_run
from tests.helpers.cli import env_of

runner = CliRunner()


def test_ingest_command_loads_and_reports(graph, neo4j_conn, tmp_path, run_id):
    root = tmp_path / "run"
    make_synthetic_run(root, run_id, conditions=("clean",), fan_in=3)
    try:
        result = runner.invoke(app, ["ingest", str(root), "--no-progress", "--batch-size", "100"],
                               env=env_of(neo4j_conn))
        assert result.exit_code == 0, result.output
        assert "loaded" in result.output
        expected = pq.ParquetFile(root / "fc/edges/clean.parquet").metadata.num_rows
        assert f"{expected:,}" in result.output
        again = runner.invoke(app, ["ingest", str(root), "--no-progress"], env=env_of(neo4j_conn))
        assert again.exit_code == 0 and "unchanged" in again.output
        listed = runner.invoke(app, ["runs"], env=env_of(neo4j_conn))
        assert listed.exit_code == 0 and run_id in listed.output
        gone = runner.invoke(app, ["delete-run", run_id, "--yes"], env=env_of(neo4j_conn))
        assert gone.exit_code == 0
        assert run_id not in runner.invoke(app, ["runs"], env=env_of(neo4j_conn)).output
    finally:
        delete_run(graph, run_id)


def test_ingest_bad_input_is_one_line_error(neo4j_conn, tmp_path, run_id):
    root = tmp_path / "run"
    make_synthetic_run(root, run_id, conditions=("clean",), fan_in=3)
    table = pq.read_table(root / "fc/edges/clean.parquet").drop_columns(["z"])
    pq.write_table(table, root / "fc/edges/clean.parquet")
    result = runner.invoke(app, ["ingest", str(root), "--no-progress"], env=env_of(neo4j_conn))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "clean.parquet: missing column 'z'" in " ".join(result.output.split())
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nothing")], env=env_of(neo4j_conn))
    assert missing.exit_code == 2 and "no manifest" in missing.output


def test_bad_batch_size_is_a_usage_error(neo4j_conn, tmp_path):
    result = runner.invoke(app, ["ingest", str(tmp_path), "--batch-size", "0"],
                           env=env_of(neo4j_conn))
    assert result.exit_code == 2


def test_export_csv_writes_import_files(tmp_path, run_id):
    root = tmp_path / "run"
    make_synthetic_run(root, run_id, conditions=("clean", "uniform:0.2"), fan_in=3)
    out = tmp_path / "csv"
    result = runner.invoke(app, ["export-csv", str(root), "--out", str(out), "--no-progress",
                                 "--top-k", "2"])
    assert result.exit_code == 0, result.output
    args = (out / "import.args").read_text().splitlines()
    assert args[:3] == ["database", "import", "full"]
    assert any(a.startswith("--relationships=FC=") for a in args)
    rows = (out / "fc-clean.csv").read_text().splitlines()
    assert rows[0].startswith('":START_ID(Neuron)",":END_ID(Neuron)"')
    n_post = sum(1 for line in (out / "neurons.csv").read_text().splitlines()[1:]
                 if "/stage1.sn/" in line or "/stage2.sn/" in line or "/fc1.sn/" in line
                 or "/fc2.sn/" in line)
    assert len(rows) - 1 == 2 * n_post  # top-2 of 3 in-edges for every post neuron


def test_version_names_the_package_and_the_graph_schema():
    from importlib.metadata import version

    from fcgraph import SCHEMA_VERSION, __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"fcgraph {__version__} (graph schema version {SCHEMA_VERSION})"
    assert version("fcgraph") == __version__  # the installed metadata reads the same home


def test_condition_option_takes_repeats_and_comma_lists_in_every_command(tmp_path, run_id):
    root = tmp_path / "run"
    make_synthetic_run(root, run_id, conditions=("clean", "uniform:0.2", "fgsm:0.1"), fan_in=2)
    written = {}
    for flags in (["-c", "clean,fgsm:0.1"], ["-c", "clean", "-c", "fgsm:0.1"]):
        out = tmp_path / f"csv{len(flags)}"
        result = runner.invoke(app, ["export-csv", str(root), "--out", str(out), "--no-progress",
                                     *flags])
        assert result.exit_code == 0, result.output
        written[len(flags)] = sorted(p.name for p in out.glob("fc-*.csv"))
    assert written[2] == written[4] == ["fc-clean.csv", "fc-fgsm_0.1.csv"]
    # record checks its conditions before it loads anything: the list was split
    bad = runner.invoke(app, ["record", "no-such-checkpoint", "--out", str(tmp_path / "rec"), "-n", "8",
                              "-c", "clean,bogus"])
    assert bad.exit_code == 2 and "'bogus'" in bad.output and "clean,bogus" not in bad.output


def _commands(command, path=()):
    """(command path, click command) of every command under ``command``, groups walked."""
    sub = getattr(command, "commands", None)
    if sub is None:
        yield " ".join(path), command
    for name, child in (sub or {}).items():
        yield from _commands(child, (*path, name))


def test_short_c_is_condition_in_every_command():
    """``-c`` means ``--condition`` wherever it appears, and every ``--condition`` has ``-c``."""
    import typer

    seen = {}
    for name, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            flags = [*param.opts, *param.secondary_opts]
            if "-c" in flags or "--condition" in flags:
                seen[name] = flags
                assert "-c" in flags and "--condition" in flags, (name, flags)
    # the commands that take conditions (sanity check of the walk itself)
    assert {"record", "fc", "ingest", "export", "demo"} <= set(seen), sorted(seen)


def test_help_groups_commands_and_options():
    import typer

    from fcgraph.cli import COMMAND_PANELS

    root = typer.main.get_command(app)
    grouped = {name: panel for panel, names in COMMAND_PANELS.items() for name in names}
    assert set(root.commands) == {*grouped, "db"}  # every command in one group
    assert {name: command.rich_help_panel for name, command in root.commands.items()
            if name != "db"} == grouped and root.commands["db"].rich_help_panel == "Database"

    def panels(command: str) -> dict[str, str | None]:
        return {p.name: getattr(p, "rich_help_panel", None) for p in root.commands[command].params}

    fc = panels("fc")
    assert {fc[n] for n in ("measure", "null", "shift_unit", "z", "threshold", "fdr", "seed")} \
        == {"Statistics"}
    assert {fc[n] for n in ("backend", "tile", "scheduler", "local_workers", "timeout")} == {"Execution"}
    train = panels("train")
    assert train["model"] == train["neuron"] == "Model" and train["data_root"] == "Data"
    assert train["epochs"] == "Training" and train["out"] is None
    # a shared option regrouped in one command keeps its group in the others
    assert panels("demo")["state"] == "Neo4j" and panels("ingest")["state"] == "Connection"


def test_hints_print_each_command_whole_on_its_own_line():
    from fcgraph.cli.common import console, print_hints

    long = "fcgraph view " + "r" * 90 + " --layer-pair fc1.sn fc2.sn --out view.html"
    with console.capture() as captured:
        print_hints("Browse", [("the view", long), ("queries", ["fcgraph query --list", "b [x]"])])
    assert console.width < len(long)  # wider than the console: Rich would have wrapped it
    assert captured.get().splitlines() == ["Browse:", "  the view", f"    {long}", "  queries",
                                           "    fcgraph query --list", "    b [x]"]


def test_progress_in_a_log_is_lines_on_stderr(tmp_path, run_id):
    from fcgraph.cli.common import console, err_console
    from fcgraph.cli.progress import task_progress

    assert not console.is_terminal  # pytest captures the output, as a log would
    with err_console.capture() as captured, task_progress(log_every=0) as update:
        for done in (0, 5, 10, 10):
            update("fc clean a -> b", done, 10)
    lines = captured.get().splitlines()
    assert lines[0] == "fc clean a -> b: started (10 to do)"
    assert any(line.startswith("fc clean a -> b: 5/10 (50%) after ") for line in lines)
    assert lines[-1].startswith("fc clean a -> b: done 10/10 in ")
    assert sum("done" in line for line in lines) == 1  # an update after the end adds nothing
    root = tmp_path / "run"  # a command with its progress on: lines in the log, result intact
    make_synthetic_run(root, run_id, conditions=("clean",), fan_in=2)
    result = runner.invoke(app, ["export-csv", str(root), "--out", str(tmp_path / "csv")])
    assert result.exit_code == 0, result.output
    assert ": started (" in result.output and "edges written to" in result.output


def test_progress_in_a_log_keeps_coming_while_a_step_makes_none(monkeypatch, capsys):
    """A task that reports nothing for a while still gets a line every FCGRAPH_PROGRESS_SECONDS
    (written by a thread of its own, hence capsys: Rich's capture sees one thread only)."""
    import time

    from fcgraph.cli.progress import task_progress

    monkeypatch.setenv("FCGRAPH_PROGRESS_SECONDS", "0.2")
    capsys.readouterr()
    with task_progress() as update:
        update("fc clean a -> b", 3, 10)
        time.sleep(1.1)  # a long step: no update at all
        update("fc clean a -> b", 10, 10)
    time.sleep(0.5)  # nothing after the end
    lines = capsys.readouterr().err.splitlines()
    periodic = [line for line in lines if line.startswith("fc clean a -> b: 3/10 (30%) after ")]
    assert lines[0] == "fc clean a -> b: started (10 to do)"
    assert 3 <= len(periodic) <= 6, lines
    assert lines[-1].startswith("fc clean a -> b: done 10/10 in ") and len(lines) == len(periodic) + 2


def test_a_bad_progress_interval_is_a_one_line_error(tmp_path, run_id):
    root = tmp_path / "run"
    make_synthetic_run(root, run_id, conditions=("clean",), fan_in=2)
    result = runner.invoke(app, ["export-csv", str(root), "--out", str(tmp_path / "csv")],
                           env={"FCGRAPH_PROGRESS_SECONDS": "soon"})
    assert result.exit_code == 2 and result.output.strip() == (
        "error: FCGRAPH_PROGRESS_SECONDS: expected a positive number of seconds, got 'soon'")


@pytest.mark.torch
def test_train_progress_reaches_a_log_file(tmp_path):
    """`fcgraph train` with its output in a file: each epoch's start, periodic lines and end."""
    pytest.importorskip("spikingjelly")
    log = tmp_path / "train.log"
    with log.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "fcgraph", "train", "--out", str(tmp_path / "ck"), "--model", "tiny",
             "--T", "4", "--epochs", "2", "--batch-size", "8", "--train-limit", "320",
             "--test-limit", "16"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "FCGRAPH_PROGRESS_SECONDS": "0.05"},
            timeout=300)
    text = log.read_text()
    assert done.returncode == 0, text
    for epoch in (1, 2):
        task = f"train epoch {epoch}/2"
        assert f"{task}: started (40 to do)" in text, text
        assert re.search(rf"^{task}: \d+/40 \(\d+%\) after \d+ s$", text, re.M), text
        assert f"{task}: done 40/40 in " in text
        assert re.search(rf"^epoch +{epoch}/2  loss ", text, re.M), text
    assert "\x1b[" not in text  # lines, not a terminal's bars
