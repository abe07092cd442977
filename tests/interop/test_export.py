"""A recording to Neo and NWB: every spike of every chosen neuron comes back in its bin, read
with neo's NixIO, pynwb and SpikeInterface; subsets; one-line errors; atomic files."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.record import open_recording
from fcgraph.record.interop import export_spikes, select_neurons, spike_times, to_neo, to_nwb

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")
pytest.importorskip("pynwb")


def truth(rec, condition, uids):
    """uid -> bins with a spike, from the recording's own bits."""
    out = {}
    for uid in uids:
        _, layer, idx = uid.rsplit("/", 2)
        out[uid] = np.flatnonzero(rec.spikes(condition, layer)[int(idx)])
    return out


def bins_of(times_ms, bin_ms):
    return np.floor(np.asarray(times_ms) / bin_ms).astype(np.int64)


def all_uids(rec):
    return [f"{rec.run_id}/{la.name}/{i}" for la in rec.layers for i in range(la.n_neurons)]


@pytest.mark.parametrize("bin_ms", [1.0, 0.1, 3.0])
def test_neo_block_holds_every_spike_in_its_bin(small_recording, bin_ms):
    rec = open_recording(small_recording)
    block = to_neo(rec, "uniform:0.1", bin_ms=bin_ms)
    assert block.annotations == {"run_id": "syn", "T": 4, "n_images": 12, "bin_ms": bin_ms}
    seg = block.segments[0]
    assert seg.name == "uniform:0.1"
    expected = truth(rec, "uniform:0.1", all_uids(rec))
    assert [st.name for st in seg.spiketrains] == list(expected)
    for st in seg.spiketrains:
        assert st.units == pq.ms and st.t_start == 0 and float(st.t_stop) == pytest.approx(48 * bin_ms)
        np.testing.assert_array_equal(bins_of(st.magnitude, bin_ms), expected[st.name])
        np.testing.assert_allclose(st.magnitude, (expected[st.name] + 0.5) * bin_ms, rtol=1e-15)
        layer, idx = st.name.split("/")[1:]
        assert st.annotations["layer"] == layer and st.annotations["index"] == int(idx)
        assert st.annotations["uid"] == st.name and st.annotations["condition"] == "uniform:0.1"
    conv = seg.spiketrains[:18]
    assert conv[0].size == 0 and conv[1].size == 48 and list(bins_of(conv[2], bin_ms)) == [0, 47]
    assert (conv[7].annotations["channel"], conv[7].annotations["y"], conv[7].annotations["x"]) == (0, 2, 1)
    epoch = seg.epochs[0]
    assert epoch.name == "images" and len(epoch) == 12
    np.testing.assert_allclose(epoch.times.magnitude, np.arange(12) * 4 * bin_ms)
    np.testing.assert_array_equal(epoch.array_annotations["label"], rec.labels)


def test_nix_file_round_trip(small_recording, tmp_path):
    pytest.importorskip("nixio")
    rec = open_recording(small_recording)
    result = export_spikes(small_recording, "neo", tmp_path / "s.nix", condition="clean")
    expected = truth(rec, "clean", all_uids(rec))
    assert (result.n_neurons, result.n_spikes) == (23, sum(b.size for b in expected.values()))
    with neo.io.NixIO(str(tmp_path / "s.nix"), mode="ro") as io:
        block = io.read_block()
    trains = block.segments[0].spiketrains
    assert {st.annotations["uid"]: list(bins_of(st.rescale("ms").magnitude, 1.0)) for st in trains} == \
        {uid: list(b) for uid, b in expected.items()}
    assert block.annotations["run_id"] == "syn"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.nix"]


def test_nwb_read_back_by_pynwb_and_spikeinterface(small_recording, tmp_path):
    from pynwb import NWBHDF5IO

    rec = open_recording(small_recording)
    out = tmp_path / "s.nwb"
    bin_ms = 2.0
    result = export_spikes(rec, "nwb", out, condition="uniform:0.1", bin_ms=bin_ms)
    expected = truth(rec, "uniform:0.1", all_uids(rec))
    assert (result.n_neurons, result.condition) == (23, "uniform:0.1")
    with NWBHDF5IO(str(out), "r") as io:
        units = io.read().units.to_dataframe()
    assert list(units["unit_name"]) == list(expected)
    for row in units.itertuples():
        np.testing.assert_array_equal(bins_of(row.spike_times * 1000, bin_ms), expected[row.unit_name])
        assert f"syn/{row.layer}/{row.index}" == row.unit_name
    si = pytest.importorskip("spikeinterface.extractors")
    sorting = si.read_nwb_sorting(out, t_start=bin_ms / 2000)
    assert sorting.get_sampling_frequency() == pytest.approx(1000 / bin_ms)
    assert list(sorting.unit_ids) == list(expected)
    for uid, bins in expected.items():
        np.testing.assert_array_equal(sorting.get_unit_spike_train(uid), bins)
    assert list(sorting.get_property("layer")[:2]) == ["conv", "conv"]


def test_subsets_in_layer_order_each_neuron_once(small_recording):
    rec = open_recording(small_recording)
    sel = select_neurons(rec, "clean", neurons=["fc/3", "syn/conv/17", ("conv", 2), "syn/fc/3"])
    assert list(sel["uid"]) == ["syn/conv/2", "syn/conv/17", "syn/fc/3"]
    assert list(select_neurons(rec, "clean", layers=["fc"])["idx"]) == [0, 1, 2, 3, 4]
    sel = select_neurons(rec, "clean", layers=["fc", "conv"], neurons=["fc/1", "conv/4"])
    assert list(sel["uid"]) == ["syn/conv/4", "syn/fc/1"]
    times = spike_times(rec, "clean", neurons=["fc/1", "conv/2"], bin_ms=0.5)
    assert list(times) == ["syn/conv/2", "syn/fc/1"]
    np.testing.assert_array_equal(times["syn/conv/2"], [0.25, 23.75])
    block = to_neo(rec, "clean", layers=["fc"], neurons=["fc/4"])
    assert [st.name for st in block.segments[0].spiketrains] == ["syn/fc/4"]
    nwb = to_nwb(rec, "clean", layers=["conv"])
    assert len(nwb.units) == 18 and len(nwb.trials) == 12


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"condition": "pgd:0.1"}, "--condition: no condition 'pgd:0.1' in the recording; conditions: clean, "
                               "uniform:0.1"),
    ({"layers": ["sn9"]}, "--layer: no layer 'sn9' in the recording; layers: conv, fc"),
    ({"neurons": ["fc/5"]}, "--neurons: 'fc/5': no neuron 5 in layer 'fc' (indices 0..4)"),
    ({"neurons": ["fc/-1"]}, "--neurons: 'fc/-1': no neuron -1"),
    ({"neurons": ["other/fc/1"]}, "--neurons: 'other/fc/1' names run 'other'"),
    ({"neurons": ["sn1/2"]}, "--neurons: 'sn1/2': no layer 'sn1'"),
    ({"neurons": ["7"]}, "--neurons: '7' is not a neuron uid"),
    ({"neurons": []}, "--neurons: no neurons given"),
    ({"layers": []}, "--layer: no layers given"),
    ({"layers": ["fc"], "neurons": ["conv/1"]}, "--neurons: conv/1 is not in the chosen layers (fc)"),
    ({"bin_ms": 0}, "--bin-ms: must be a positive number"),
    ({"bin_ms": float("nan")}, "--bin-ms: must be a positive number"),
])
def test_bad_input_is_one_line_and_writes_nothing(small_recording, tmp_path, kwargs, message):
    kwargs = {"condition": "clean", **kwargs}
    for fmt in ("neo", "nwb"):
        with pytest.raises(BadArgument) as err:
            export_spikes(small_recording, fmt, tmp_path / f"s.{fmt}", **kwargs)
        assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_bad_format_out_and_recording(small_recording, tmp_path):
    with pytest.raises(BadArgument, match="--format: unknown format 'csv'; choose one of neo, nwb"):
        export_spikes(small_recording, "csv", tmp_path / "s.csv")
    with pytest.raises(BadArgument, match="is a folder; give a file name"):
        export_spikes(small_recording, "nwb", tmp_path)
    with pytest.raises(BadArgument, match="recording folder does not exist"):
        export_spikes(tmp_path / "nothing", "nwb", tmp_path / "s.nwb")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_replaced_whole(small_recording, tmp_path):
    out = tmp_path / "s.nwb"
    out.write_bytes(b"old")
    export_spikes(small_recording, "nwb", out, neurons=["fc/0"])
    assert out.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.nwb"]


@pytest.mark.parametrize(("fmt", "module"), [("neo", "neo"), ("neo", "nixio"), ("nwb", "pynwb")])
def test_missing_extra_is_named(small_recording, tmp_path, monkeypatch, fmt, module):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(FcgraphError) as err:
        export_spikes(small_recording, fmt, tmp_path / "s.out")
    assert str(err.value) == (f"exporting spikes needs {module}: install the interop extra "
                              "(pip install 'fcgraph[interop]')")
    assert list(tmp_path.iterdir()) == []
