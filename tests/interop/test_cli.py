"""`fcgraph export-spikes`: the same files as the API, one-line errors (exit 2) for bad names."""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.record import open_recording
from tests.helpers.cli import invoke

pynwb = pytest.importorskip("pynwb")
neo = pytest.importorskip("neo")


def test_export_spikes_nwb_subset(small_recording, tmp_path):
    out = tmp_path / "s.nwb"
    result = invoke(["export-spikes", str(small_recording), "-f", "nwb", "-o", str(out), "-c",
                     "uniform:0.1", "-l", "conv", "-l", "fc", "--neurons", "fc/4,syn/conv/2",
                     "--neurons", "conv/1", "--bin-ms", "2", "--no-progress"])
    rec = open_recording(small_recording)
    n_spikes = 48 + 2 + int(rec.spikes("uniform:0.1", "fc")[4].sum())  # conv/1 fires in every bin
    assert " ".join(result.stdout.split()) == (f"exported 3 neurons ({n_spikes} spikes) of condition "
                                               f"uniform:0.1 as nwb to {out}")
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        units = io.read().units.to_dataframe()
    assert list(units["unit_name"]) == ["syn/conv/1", "syn/conv/2", "syn/fc/4"]
    for row in units.itertuples():
        bins = np.flatnonzero(rec.spikes("uniform:0.1", row.layer)[row.index])
        np.testing.assert_array_equal(np.floor(row.spike_times * 1000 / 2).astype(int), bins)


def test_export_spikes_neo_whole_layer_with_progress_lines(small_recording, tmp_path):
    pytest.importorskip("nixio")
    out = tmp_path / "s.nix"
    result = invoke(["export-spikes", str(small_recording), "-f", "neo", "-o", str(out), "-l", "fc"])
    assert "exported 5 neurons" in result.stdout and "of condition clean as neo" in result.stdout
    assert "neurons: done 5/5" in result.stderr and "writing neo: done 1/1" in result.stderr
    with neo.io.NixIO(str(out), mode="ro") as io:
        trains = io.read_block().segments[0].spiketrains
    assert [st.annotations["uid"] for st in trains] == [f"syn/fc/{i}" for i in range(5)]


@pytest.mark.parametrize(("args", "message"), [
    (["-c", "pgd"], "error: --condition: no condition 'pgd' in the recording; conditions: clean, "
                    "uniform:0.1"),
    (["-c", "clean,uniform:0.1"], "error: --condition: one condition per file, got 2"),
    (["-l", "sn1"], "error: --layer: no layer 'sn1' in the recording; layers: conv, fc"),
    (["--neurons", "fc/9"], "error: --neurons: 'fc/9': no neuron 9 in layer 'fc' (indices 0..4)"),
    (["--bin-ms", "-1"], "error: --bin-ms: must be a positive number of milliseconds, got -1.0"),
])
def test_export_spikes_bad_names_are_one_line(small_recording, tmp_path, args, message):
    out = tmp_path / "s.nwb"
    result = invoke(["export-spikes", str(small_recording), "-f", "nwb", "-o", str(out), *args],
                    exit_code=2)
    assert result.stderr.strip() == message
    assert not out.exists()
