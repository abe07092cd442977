"""`fcgraph train` and `fcgraph record`: real runs, and one-line errors (exit 2) for bad arguments."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import fcgraph.record
from fcgraph.cli import app

runner = CliRunner()

QUICK = ["--model", "tiny", "--T", "4", "--lr", "0.02", "--batch-size", "16", "--epochs", "1",
         "--train-limit", "128", "--test-limit", "16", "--no-progress"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "ck"
    result = runner.invoke(app, ["train", "--out", str(out), *QUICK])
    assert result.exit_code == 0, result.output
    assert "epoch   1/1" in result.output and "test accuracy" in result.output
    return out


def test_train_resumes_and_reports(checkpoint):
    again = runner.invoke(app, ["train", "--out", str(checkpoint), *QUICK])
    assert again.exit_code == 0 and "already trained" in again.output


def test_record_writes_a_run_folder(checkpoint, tmp_path):
    out = tmp_path / "rec"
    result = runner.invoke(app, ["record", str(checkpoint), "--out", str(out), "--n-images", "24",
                                 "-c", "clean", "-c", "pgd:0.03:2", "--batch-size", "8", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "clean" in result.output and "pgd:0.03:2" in result.output
    rec = fcgraph.record.open_recording(out)
    assert rec.conditions == ["clean", "pgd:0.03:2"] and rec.n_images == 24
    assert rec.manifest.provenance["command"].startswith("fcgraph ")  # sys.argv: pytest's here
    assert rec.attack_success_rate("pgd:0.03:2") is not None


@pytest.mark.parametrize(("args", "message", "code"), [
    (["train", "--out", "{tmp}/x", "--model", "vgg"],
     "'vgg' is not one of 'sew-small', 'sew-resnet18', 'spiking-resnet18', 'tiny'", 2),
    (["train", "--out", "{tmp}/x", "--neuron", "hh"], "'hh' is not one of 'plif', 'lif', 'if'", 2),
    (["train", "--out", "{tmp}/x", "--dataset", "svhn"], "unknown dataset 'svhn'", 2),
    (["train", "--out", "{tmp}/x", "--dataset", "cifar10", "--data-root", "{tmp}", "--no-download"],
     "cifar10 is not in", 1),
    (["record", "{ck}", "--out", "{tmp}/r", "-n", "8", "-c", "uniform"], "expected uniform:LEVEL", 2),
    (["record", "{ck}", "--out", "{tmp}/r", "-n", "8", "-c", "clean", "-c", "clean"], "given twice", 2),
    (["record", "{tmp}/none", "--out", "{tmp}/r", "-n", "8", "-c", "clean"], "does not exist", 2),
    (["record", "{ck}", "--out", "{tmp}/r", "-n", "5000", "-c", "clean"], "is too many", 2),
    (["record", "{ck}", "--out", "{tmp}/r", "-n", "8", "-c", "clean", "--split", "val"],
     "'val' is not one of 'train', 'test', 'all'", 2),
])
def test_bad_arguments_give_one_line_errors(checkpoint, tmp_path, args, message, code):
    """Exit 2 for a bad flag or argument, 1 for what the data or the machine lack."""
    argv = [a.format(tmp=tmp_path, ck=checkpoint) for a in args]
    result = runner.invoke(app, argv)
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output


def test_name_lists_match_the_api():
    """fcgraph.names lists exactly what the models build, in the same order."""
    from fcgraph import names
    from fcgraph.models import ARCHITECTURES, NEURON_KINDS

    assert tuple(ARCHITECTURES) == names.ARCHITECTURES
    assert tuple(NEURON_KINDS) == names.NEURON_TYPES
