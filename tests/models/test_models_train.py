"""Training, checkpoints and datasets: tiny learns digits in seconds, deterministically and resumably."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fcgraph.datasets import load_dataset
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.models import TrainConfig, evaluate, load_checkpoint, train
from fcgraph.models.checkpoint import TRAIN_STATE, WEIGHTS, epoch_weights_path, kept_epochs

QUICK = dict(architecture="tiny", T=4, lr=0.02, batch_size=16)


def weights(folder) -> dict[str, torch.Tensor]:
    return torch.load(folder / WEIGHTS, weights_only=True)


def test_tiny_learns_digits_well_above_chance(tmp_path):
    result = train(TrainConfig(epochs=2, train_limit=512, test_limit=200, **QUICK), tmp_path / "ck")
    assert result["complete"] and result["metrics"]["epochs_done"] == 2
    assert result["metrics"]["test_accuracy"] > 0.5  # chance is 0.1
    model, config = load_checkpoint(tmp_path / "ck")
    assert not model.training and config.model.architecture == "tiny" and config.model.T == 4
    test = load_dataset("digits", "test").first(200)
    accuracy, _ = evaluate(model, test)
    assert accuracy == pytest.approx(result["metrics"]["test_accuracy"])
    saved = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert saved["dataset"]["name"] == "digits" and saved["model"]["mean"] == [0.3053] * 3
    assert len(json.loads((tmp_path / "ck" / "metrics.json").read_text())["epochs"]) == 2


def test_deterministic_and_resumes_after_a_kill(tmp_path):
    config = TrainConfig(epochs=2, train_limit=96, test_limit=32, **QUICK)
    train(config, tmp_path / "a")
    train(config, tmp_path / "b")

    def killed(record):
        raise KeyboardInterrupt  # the process dies right after epoch 1 was saved

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "c", on_epoch=killed)
    with pytest.raises(FcgraphError, match="incomplete"):
        load_checkpoint(tmp_path / "c")
    epochs_run = []
    train(config, tmp_path / "c", on_epoch=epochs_run.append)
    assert [r["epoch"] for r in epochs_run] == [2]
    a, b, c = weights(tmp_path / "a"), weights(tmp_path / "b"), weights(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]) for k in a)
    assert (tmp_path / "c" / TRAIN_STATE).exists()
    # rerunning a finished training does nothing; other settings in the same folder are refused
    assert train(config, tmp_path / "c", on_epoch=epochs_run.append)["complete"]
    assert len(epochs_run) == 1
    with pytest.raises(FcgraphError, match=r"other settings \(lr\)"):
        train(TrainConfig(epochs=2, train_limit=96, test_limit=32, **dict(QUICK, lr=0.1)), tmp_path / "c")


def test_kept_epochs_are_the_weights_after_that_epoch(tmp_path):
    """--keep-epochs 1 of a 2-epoch training keeps exactly a 1-epoch training's weights (the
    cosine schedule starts at the same rate), not the final ones."""
    data = dict(train_limit=96, test_limit=32, **QUICK)
    train(TrainConfig(epochs=2, keep_epochs=(1,), **data), tmp_path / "two")
    train(TrainConfig(epochs=1, **data), tmp_path / "one")
    kept = torch.load(epoch_weights_path(tmp_path / "two", 1), weights_only=True)
    one, final = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert epoch_weights_path(tmp_path / "two", 1) == tmp_path / "two" / "epochs" / "epoch-1.pt"
    assert kept_epochs(tmp_path / "two") == [1] and kept_epochs(tmp_path / "one") == []
    assert kept.keys() == one.keys() and all(torch.equal(kept[k], one[k]) for k in one)
    assert not all(torch.equal(kept[k], final[k]) for k in final)


def test_a_resumed_training_keeps_the_epochs_already_kept(tmp_path):
    config = TrainConfig(epochs=2, train_limit=96, test_limit=32, keep_epochs=(1,), **QUICK)

    def killed(record):
        raise KeyboardInterrupt  # right after epoch 1 was saved

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "ck", on_epoch=killed)
    first = torch.load(epoch_weights_path(tmp_path / "ck", 1), weights_only=True)
    # another list does not change the weights: the training resumes, keeping epoch 1
    epochs_run = []
    train(TrainConfig(epochs=2, train_limit=96, test_limit=32, keep_epochs=(2,), **QUICK),
          tmp_path / "ck", on_epoch=epochs_run.append)
    assert [r["epoch"] for r in epochs_run] == [2] and kept_epochs(tmp_path / "ck") == [1, 2]
    again = torch.load(epoch_weights_path(tmp_path / "ck", 1), weights_only=True)
    assert all(torch.equal(first[k], again[k]) for k in first)
    final = weights(tmp_path / "ck")
    last = torch.load(epoch_weights_path(tmp_path / "ck", 2), weights_only=True)
    assert all(torch.equal(final[k], last[k]) for k in final)
    # --restart discards them with the rest of the checkpoint
    train(TrainConfig(epochs=1, train_limit=96, test_limit=32, **QUICK), tmp_path / "ck",
          restart=True)
    assert kept_epochs(tmp_path / "ck") == []


@pytest.mark.parametrize("epochs", [(0,), (3,), (1, 5)])
def test_an_epoch_to_keep_outside_the_training_is_refused(epochs, tmp_path):
    with pytest.raises(BadArgument, match=r"--keep-epochs: epoch \d is not in 1\.\.2"):
        TrainConfig(epochs=2, keep_epochs=epochs, **QUICK)


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    train(TrainConfig(epochs=1, train_limit=32, test_limit=16, **QUICK), tmp_path / "ck")
    data = (tmp_path / "ck" / WEIGHTS).read_bytes()
    (tmp_path / "ck" / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(FcgraphError, match="model.pt: cannot be read"):
        load_checkpoint(tmp_path / "ck")
    with pytest.raises(FcgraphError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing")
    with pytest.raises(FcgraphError, match="config.json: missing"):
        load_checkpoint(tmp_path)


def test_digits_split_is_fixed_and_offline():
    train_set, test_set = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert (len(train_set), len(test_set), len(load_dataset("digits", "all"))) == (1437, 360, 1797)
    images, labels = next(test_set.batches(360))
    assert images.shape == (360, 3, 32, 32) and images.min() >= 0 and images.max() <= 1
    assert np.bincount(labels.numpy()).min() >= 35  # stratified
    again, _ = next(load_dataset("digits", "test").batches(360))
    assert torch.equal(images, again)
    other, _ = next(load_dataset("digits", "test", split_seed=1).batches(360))
    assert not torch.equal(images, other)


def test_missing_or_unknown_datasets_are_one_line_errors(tmp_path):
    with pytest.raises(FcgraphError, match=r"mnist is not in .*--data-root") as info:
        load_dataset("mnist", "test", data_root=tmp_path, download=False)
    assert "\n" not in str(info.value)
    with pytest.raises(FcgraphError, match="unknown dataset 'svhn'"):
        load_dataset("svhn")
    with pytest.raises(FcgraphError, match="does not exist"):
        load_dataset(f"imagefolder:{tmp_path / 'none'}")
    with pytest.raises(FcgraphError, match="has only 360 images"):
        load_dataset("digits", "test").first(400)


def test_image_folder(tmp_path):
    from PIL import Image

    for cls, value in (("cat", 30), ("dog", 220)):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (40, 50), (value, value, i)).save(tmp_path / cls / f"{i}.png")
    data = load_dataset(f"imagefolder:{tmp_path}")
    images, labels = next(data.batches(8))
    assert data.num_classes == 2 and images.shape == (6, 3, 32, 32)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_mnist_read_from_a_data_root(tmp_path):
    """torchvision's MNIST files (here a 6-image fake in the idx format) padded to 3 x 32 x 32."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(1, 256, size=(6, 28, 28), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8)

    def idx(array: np.ndarray) -> bytes:
        header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
        return header + array.tobytes()

    for prefix in ("train", "t10k"):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(idx(images))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(idx(labels))
    data = load_dataset("mnist", "test", data_root=tmp_path, download=False)
    batch, got = next(data.batches(8))
    assert batch.shape == (6, 3, 32, 32) and got.tolist() == list(range(6))
    assert torch.equal(batch[:, 0, 2:30, 2:30], torch.from_numpy(images).float() / 255)
    assert batch[:, :, :2].abs().sum() == 0 and torch.equal(batch[:, 0], batch[:, 2])
    assert len(load_dataset("mnist", "all", data_root=tmp_path, download=False)) == 12
