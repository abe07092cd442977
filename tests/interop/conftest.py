"""A small synthetic recording (no torch): two layers, two conditions, with a silent neuron, one
that fires in every bin and one in the first and last bins (the edges of the time axis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fcgraph.analysis.synthetic import write_recording

T, N_IMAGES = 4, 12
LAYERS = [("conv", (2, 3, 3)), ("fc", (5,))]


@pytest.fixture(scope="session")
def small_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(7)
    L = T * N_IMAGES
    spikes = {}
    for c, condition in enumerate(["clean", "uniform:0.1"]):
        conv = rng.random((18, L)) < 0.2 + 0.1 * c
        conv[0] = False
        conv[1] = True
        conv[2] = False
        conv[2, [0, L - 1]] = True
        spikes[condition] = {"conv": conv, "fc": rng.random((5, L)) < 0.3}
    root = tmp_path_factory.mktemp("interop") / "rec"
    write_recording(root, "syn", LAYERS, T, rng.integers(0, 10, N_IMAGES), spikes)
    return root
