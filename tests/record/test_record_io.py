"""Recording folders: shapes, bit layout, determinism, resume after a kill, damaged files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import fcgraph.record
from fcgraph.contract import read_manifest
from fcgraph.datasets import load_dataset
from fcgraph.errors import FcgraphError
from fcgraph.models import TrainConfig, load_checkpoint, neuron_modules, spiking_layers, train
from fcgraph.record import record
from fcgraph.record.layout import chunk_multiple, row_bytes
from fcgraph.record.writer import SpikeFileWriter, pack_chunk
from fcgraph.spikes import unpack

N = 40
CONDITIONS = ["clean", "uniform:0.2", "fgsm:0.05", "permute:layer", "untrained"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ck")
    train(TrainConfig(architecture="tiny", T=4, lr=0.02, batch_size=16, epochs=1, train_limit=256,
                      test_limit=16), folder)
    return folder


@pytest.fixture(scope="module")
def recording(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("rec") / "digits-tiny"
    record(checkpoint, out, CONDITIONS, N, batch_size=16, seed=3)
    return out


def file_hashes(folder) -> dict[str, str]:
    conds = read_manifest(folder).extra["recording"]["conditions"]
    return {f"{c}/{la}": v["sha256"] for c, entry in conds.items() for la, v in entry["layers"].items()}


def test_manifest_follows_the_contract(recording, checkpoint):
    manifest = read_manifest(recording)
    model, _ = load_checkpoint(checkpoint)
    assert manifest.run_id == "digits-tiny" and manifest.T == 4 and manifest.n_images == N
    assert manifest.layers == spiking_layers(model.backbone, 4, (3, 32, 32))
    assert [c.name for c in manifest.conditions] == CONDITIONS
    prov = manifest.provenance
    assert prov["model"]["architecture"] == "tiny" and len(prov["model"]["sha256"]) == 64
    assert prov["dataset"]["name"] == "digits" and prov["seed"] == 3 and "torch" in prov["versions"]
    assert prov["command"]
    conds = manifest.extra["recording"]["conditions"]
    assert 0 <= conds["fgsm:0.05"]["attack_success_rate"] <= 1
    assert conds["fgsm:0.05"]["accuracy"] < conds["clean"]["accuracy"]
    assert conds["untrained"]["details"]["batchnorm"].startswith("running statistics recalibrated")
    for entry in conds.values():
        assert set(entry["layers"]) == set(manifest.layer_names)
        assert all(0 <= v["firing_rate"] <= 1 for v in entry["layers"].values())


def test_reader_shapes_and_bit_layout_match_a_direct_forward(recording, checkpoint):
    rec = fcgraph.record.open_recording(recording)
    assert rec.T == 4 and rec.n_images == N and rec.conditions == CONDITIONS
    images, labels = next(load_dataset("digits", "test").batches(N))
    assert np.array_equal(rec.labels, labels.numpy())
    model, _ = load_checkpoint(checkpoint)
    outputs = {}
    for name, node in neuron_modules(model.backbone).items():
        node.register_forward_hook(lambda m, a, out, name=name: outputs.__setitem__(name, out))
    with torch.no_grad():
        predicted = model(images[:8]).argmax(1)
    assert np.array_equal(rec.predictions("clean")[:8], predicted.numpy())
    for layer in rec.layers:
        spikes = rec.spikes("clean", layer.name)
        assert spikes.dtype == bool and spikes.shape == (layer.n_neurons, 4 * N)
        out = outputs[layer.name]  # [T, B, *shape]
        for b in (0, 5):
            for t in (0, 3):
                assert np.array_equal(spikes[:, b * 4 + t], out[t, b].flatten().numpy() > 0)
        if len(layer.shape) == 3:  # neuron k = c*H*W + y*W + x
            _, H, W = layer.shape
            c, y, x = 1, 2, 3
            assert np.array_equal(spikes[c * H * W + y * W + x, 8:12], out[:, 2, c, y, x].numpy() > 0)
        assert rec.packed("clean", layer.name).spike_counts().sum() == spikes.sum()
        rate = spikes.mean()
        assert rec.firing_rate("clean", layer.name) == pytest.approx(rate)


def test_each_condition_changes_the_spikes(recording):
    rec = fcgraph.record.open_recording(recording)
    clean = rec.spikes("clean", "sn1")
    for condition in CONDITIONS[1:]:
        assert not np.array_equal(rec.spikes(condition, "sn1"), clean), condition


@pytest.mark.parametrize("T", [1, 3, 4, 5, 8, 9, 16])
def test_packing_round_trip_in_chunks(tmp_path, T):
    rng = np.random.default_rng(T)
    n_images, shape = 21, (2, 3, 5)
    spikes = rng.random((T, n_images, *shape)) < 0.3
    step = chunk_multiple(T) * 2
    writer = SpikeFileWriter(tmp_path / "x.bits", 30, row_bytes(T, n_images))
    for start in range(0, n_images, step):
        writer.write(start * T // 8, pack_chunk(torch.from_numpy(spikes[:, start:start + step])))
    writer.finish()
    packed = np.fromfile(tmp_path / "x.bits", dtype=np.uint8).reshape(30, -1)
    trains = unpack(packed, T * n_images)
    expected = spikes.reshape(T, n_images, 30).transpose(2, 1, 0).reshape(30, T * n_images)
    assert np.array_equal(trains, expected)


def test_same_seed_same_spikes_whatever_the_batch_size(recording, checkpoint, tmp_path):
    record(checkpoint, tmp_path / "again", CONDITIONS, N, batch_size=8, seed=3)
    assert file_hashes(tmp_path / "again") == file_hashes(recording)


def test_resume_after_a_kill(recording, checkpoint, tmp_path):
    calls = []

    def killer(task, done, total):
        calls.append(task)
        if task == "fgsm:0.05" and 0 < done < total:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        record(checkpoint, tmp_path / "r", CONDITIONS, N, batch_size=16, seed=3, progress=killer,
               flush_bytes=1)
    assert not (tmp_path / "r" / "manifest.json").exists()
    assert (tmp_path / "r" / "spikes" / "fgsm_0.05" / "sn1.bits.partial").exists()
    done = []
    record(checkpoint, tmp_path / "r", CONDITIONS, N, batch_size=16, seed=3,
           progress=lambda task, d, total: done.append((task, d)))
    assert ("clean", N) in done and ("clean", 16) not in done  # finished conditions are kept
    fgsm = [d for task, d in done if task == "fgsm:0.05"]
    assert fgsm == [16, 32, 40]  # resumed after the batch saved before the kill
    assert file_hashes(tmp_path / "r") == file_hashes(recording)
    assert not list((tmp_path / "r").rglob("*.partial"))


def test_adding_a_condition_keeps_the_others(recording, checkpoint, tmp_path):
    out = tmp_path / "grow"
    record(checkpoint, out, ["clean"], N, batch_size=16, seed=3)
    record(checkpoint, out, ["gaussian:0.1"], N, batch_size=16, seed=3)
    assert fcgraph.record.open_recording(out).conditions == ["clean", "gaussian:0.1"]


def test_damaged_files_name_themselves(recording, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(recording, copy)
    bits = copy / "spikes" / "clean" / "layer1.0.sn1.bits"
    data = bytearray(bits.read_bytes())
    data[7] ^= 0xFF
    bits.write_bytes(bytes(data))
    rec = fcgraph.record.open_recording(copy)
    rec.spikes("clean", "sn1")  # other files still read
    with pytest.raises(FcgraphError, match=r"layer1\.0\.sn1\.bits: corrupt"):
        rec.spikes("clean", "layer1.0.sn1")
    assert fcgraph.record.open_recording(copy, verify=False).spikes("clean", "layer1.0.sn1").shape[1] == 4 * N
    bits.write_bytes(bytes(data[:100]))
    with pytest.raises(FcgraphError, match=r"layer1\.0\.sn1\.bits: truncated"):
        fcgraph.record.open_recording(copy)
    bits.unlink()
    with pytest.raises(FcgraphError, match=r"layer1\.0\.sn1\.bits: missing"):
        fcgraph.record.open_recording(copy)
    with pytest.raises(FcgraphError, match="no manifest"):
        fcgraph.record.open_recording(tmp_path)
    rec = fcgraph.record.open_recording(recording)
    with pytest.raises(FcgraphError, match="no condition 'gaussian:0.3'"):
        rec.spikes("gaussian:0.3", "sn1")
    with pytest.raises(FcgraphError, match="no layer 'sn9'"):
        rec.spikes("clean", "sn9")


def test_folder_conflicts_and_bad_arguments(recording, checkpoint, tmp_path):
    with pytest.raises(FcgraphError, match=r"other settings \(n_images\)"):
        record(checkpoint, recording, ["clean"], N - 8, batch_size=16, seed=3)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(FcgraphError, match="not empty"):
        record(checkpoint, tmp_path / "busy", ["clean"], 8)
    with pytest.raises(FcgraphError, match="has 360 images"):
        record(checkpoint, tmp_path / "big", ["clean"], 361)
    with pytest.raises(FcgraphError, match="bad --run-id"):
        record(checkpoint, tmp_path / "x", ["clean"], 8, run_id="a b")
    plan = json.loads((recording / ".record" / "plan.json").read_text())
    assert plan["batch_size"] == 16 and plan["n_images"] == N


def test_kill_while_finishing_a_condition(recording, checkpoint, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(recording, copy)
    progress = copy / ".record" / "clean.json"
    state = json.loads(progress.read_text())
    state["complete"] = False  # killed after some files were renamed, before the state was saved
    progress.write_text(json.dumps(state))
    bits = copy / "spikes" / "clean" / "fc1.sn.bits"
    bits.rename(bits.with_name(bits.name + ".partial"))
    record(checkpoint, copy, CONDITIONS, N, batch_size=16, seed=3)
    assert file_hashes(copy) == file_hashes(recording)
    assert json.loads(progress.read_text())["complete"]
