"""`fcgraph record --trials` and `fcgraph fc --null trial` on the tiny model, end to end.

The recorded network is deterministic: repeated clean trials are identical, so the trial null
finds no spread and no edge there, while input noise (seeded by the presentation) makes the
trials of a noise condition differ. Trial 0 is exactly the plain recording of the same images.
"""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.fc import compute_run
from fcgraph.record import open_recording
from tests.helpers.cli import invoke

N_IMAGES, TRIALS = 16, 3
CONDITIONS = ["-c", "clean", "-c", "uniform:0.2"]


@pytest.fixture(scope="module")
def recordings(tiny_run, tmp_path_factory):
    """(a recording of 3 trials, the plain recording of the same images and seed)."""
    base = tmp_path_factory.mktemp("trials")
    common = [str(tiny_run.checkpoint), "-n", str(N_IMAGES), *CONDITIONS, "--batch-size", "8",
              "--seed", "3", "--no-progress"]
    invoke(["record", *common, "--out", str(base / "trials"), "--trials", str(TRIALS)])
    invoke(["record", *common, "--out", str(base / "plain")])
    return open_recording(base / "trials"), open_recording(base / "plain")


def trial(rows: np.ndarray, r: int, T: int) -> np.ndarray:
    return rows[:, r * N_IMAGES * T:(r + 1) * N_IMAGES * T]


def test_trials_are_recorded_trial_major(recordings) -> None:
    rec, plain = recordings
    assert (rec.trials, rec.n_images, plain.trials) == (TRIALS, TRIALS * N_IMAGES, 1)
    assert np.array_equal(rec.labels, np.tile(plain.labels, TRIALS))
    for layer in rec.layer_names:
        for condition in ("clean", "uniform:0.2"):
            rows = rec.packed(condition, layer).rows()
            assert np.array_equal(trial(rows, 0, rec.T), plain.packed(condition, layer).rows())
        clean = rec.packed("clean", layer).rows()
        assert all(np.array_equal(trial(clean, r, rec.T), trial(clean, 0, rec.T))
                   for r in range(1, TRIALS))
    noisy = [rec.packed("uniform:0.2", layer).rows() for layer in rec.layer_names]
    assert any(not np.array_equal(trial(rows, 1, rec.T), trial(rows, 0, rec.T)) for rows in noisy)


def test_trial_null_finds_nothing_beyond_the_image_in_a_deterministic_network(recordings,
                                                                               tmp_path) -> None:
    import shutil

    folder = tmp_path / "rec"
    shutil.copytree(recordings[0].path, folder)
    pairs = compute_run(folder, null="trial", backend="numpy", min_spikes=2)
    pairs = pairs[pairs["tested"] > 0]
    clean = pairs[pairs["condition"] == "clean"]
    noisy = pairs[pairs["condition"] == "uniform:0.2"]
    assert len(clean) >= 3 and len(noisy) >= 3
    assert (clean["zero_spread"] == clean["tested"]).all() and (clean["edges"] == 0).all()
    assert (noisy["zero_spread"] < noisy["tested"]).all()  # the trials differ there
    manifest = open_recording(folder).manifest.fc
    assert manifest["parameters"]["null"] == "trial"
    assert {row["n_shifts_used"] for rows in manifest["layer_pairs"].values() for row in rows} \
        == {TRIALS - 1}


def test_trial_null_and_analyze_refuse_what_they_cannot_read(recordings, tmp_path) -> None:
    rec, plain = recordings
    result = invoke(["fc", str(plain.path), "--null", "trial", "--no-progress"], exit_code=2)
    assert "fcgraph record --trials" in result.output and "Traceback" not in result.output
    result = invoke(["analyze", str(rec.path), "--no-progress"], exit_code=1)
    assert "3 trials" in result.output and "Traceback" not in result.output
