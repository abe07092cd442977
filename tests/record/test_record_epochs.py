"""``epoch:E``: the network kept after a training epoch (``fcgraph train --keep-epochs``),
recorded like ``clean``; an epoch the checkpoint does not keep is a one-line error."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from fcgraph.cli import app
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.models import TrainConfig, train
from fcgraph.record import open_recording, record

N_IMAGES = 16
DATA = dict(architecture="tiny", T=4, lr=0.02, batch_size=16, train_limit=128, test_limit=16)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """(a 2-epoch training keeping epoch 1, a 1-epoch training of the same settings)."""
    base = tmp_path_factory.mktemp("epochs")
    train(TrainConfig(epochs=2, keep_epochs=(1,), **DATA), base / "two")
    train(TrainConfig(epochs=1, **DATA), base / "one")
    return base / "two", base / "one"


def spikes(rec, condition):
    return {la: rec.spikes(condition, la) for la in rec.layer_names}


def test_epoch_records_the_weights_kept_after_that_epoch(checkpoints, tmp_path):
    two, one = checkpoints
    record(two, tmp_path / "two", ["clean", "epoch:1"], N_IMAGES, batch_size=8, seed=3)
    record(one, tmp_path / "one", ["clean"], N_IMAGES, batch_size=8, seed=3)
    rec, ref = open_recording(tmp_path / "two"), open_recording(tmp_path / "one")
    kept, final, after_one = spikes(rec, "epoch:1"), spikes(rec, "clean"), spikes(ref, "clean")
    # the network after epoch 1 is the 1-epoch training's, recorded as clean is (BatchNorm as
    # saved), and not the final one
    assert all(np.array_equal(kept[la], after_one[la]) for la in kept)
    assert not all(np.array_equal(kept[la], final[la]) for la in kept)
    assert np.array_equal(rec.predictions("epoch:1"), ref.predictions("clean"))
    details = rec.condition_info("epoch:1")["details"]
    assert details["kind"] == "epoch" and details["epoch"] == 1


def test_a_kept_epoch_replaced_by_other_weights_is_refused(checkpoints, tmp_path):
    """The training records each kept epoch's SHA-256; a file that holds other weights of the
    same architecture (the final ones copied over it) is refused in one line, nothing recorded."""
    two, _ = checkpoints
    copy = tmp_path / "ck"
    shutil.copytree(two, copy)
    config = json.loads((copy / "config.json").read_text())
    assert list(config["kept_sha256"]) == ["1"] and config["kept_sha256"]["1"] != config["model_sha256"]
    shutil.copy2(copy / "model.pt", copy / "epochs" / "epoch-1.pt")
    with pytest.raises(FcgraphError, match=r"epoch-1\.pt: corrupt or replaced .*kept_sha256 of epoch 1"):
        record(copy, tmp_path / "r", ["clean", "epoch:1"], N_IMAGES, batch_size=8)
    assert not (tmp_path / "r" / "spikes" / "epoch_1").exists()


def test_an_epoch_not_kept_is_refused_in_one_line(checkpoints, tmp_path):
    two, one = checkpoints
    with pytest.raises(BadArgument, match=r"no weights for epoch:2 .*\(kept: epoch:1\); train "
                                          r"with `fcgraph train --keep-epochs"):
        record(two, tmp_path / "r", ["clean", "epoch:2"], N_IMAGES, batch_size=8)
    assert not (tmp_path / "r").exists()  # refused before anything is written
    result = CliRunner().invoke(app, ["record", str(one), "--out", str(tmp_path / "r"), "-n", "8",
                                      "-c", "epoch:1", "--no-progress"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "no weights for epoch:1" in lines[0] and "(none kept)" in lines[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--epochs", "2", "--keep-epochs", "3"], "--keep-epochs: epoch 3 is not in 1..2"),
    (["--epochs", "2", "--keep-epochs", "1,x"], "not a comma-separated list of epochs"),
])
def test_bad_epochs_to_keep_are_refused_before_training(tmp_path, args, message):
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "ck"), "--model", "tiny",
                                      *args, "--no-progress"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and message in lines[0], result.output
    assert not (tmp_path / "ck").exists()


def test_train_keeps_the_epochs_asked_for(tmp_path):
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "ck"), "--model", "tiny",
                                      "--T", "4", "--epochs", "2", "--keep-epochs", "1,2",
                                      "--train-limit", "32", "--test-limit", "16", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "weights kept after epoch 1, 2" in result.output
    assert sorted(p.name for p in (tmp_path / "ck" / "epochs").iterdir()) == ["epoch-1.pt",
                                                                              "epoch-2.pt"]
