"""Training checkpoints (``epoch:E``) in the analysis: analysed with their own groups like a
control network, reported in finding 5's training trajectory, never gating a verdict."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from fcgraph.analysis import AnalysisConfig, analyze_run
from fcgraph.analysis.findings import condition_role, evaluate, summary_frame
from fcgraph.analysis.findings.f2_events import decoding_contrast
from fcgraph.analysis.findings.f5_learning import _average_correct, training_trajectory
from fcgraph.analysis.report import render_report
from fcgraph.analysis.synthetic import make_planted_run
from fcgraph.cli.analyze import training_table
from fcgraph.record import open_recording

SIZES = tuple(range(8, 32, 2))
FAST = AnalysisConfig(n_boot=30, n_shuffle=1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A planted run whose epoch 1 has learnt nothing and whose epoch 3 is as good as the
    trained network (its re-measurement), beside the shuffled control permute:layer."""
    root = tmp_path_factory.mktemp("an") / "checkpoints"
    make_planted_run(root, n_images=300, sizes=SIZES, checkpoints={3: "trained", 1: "shuffled"},
                     seed=0)
    return root, analyze_run(root, FAST)


def without(analysis, names):
    """The analysis as if ``names`` had not been recorded."""
    return {**analysis, "networks": {n: v for n, v in analysis["networks"].items() if n not in names},
            "conditions": {n: v for n, v in analysis["conditions"].items() if n not in names}}


def renamed(analysis, old, new):
    """The analysis with condition ``old`` recorded under the name ``new``."""
    def swap(d):
        return {new if n == old else n: v for n, v in d.items()}
    return {**analysis, "networks": swap(analysis["networks"]),
            "conditions": swap(analysis["conditions"])}


def test_checkpoints_are_analysed_like_controls(run):
    _, analysis = run
    assert analysis["networks"]["epoch:3"]["role"] == "checkpoint"
    assert analysis["networks"]["permute:layer"]["role"] == "control"
    assert [condition_role(c) for c in ("epoch:1", "untrained", "clean")] == \
        ["checkpoint", "control", "trained"]
    (own,) = analysis["networks"]["epoch:3"]["layers"]  # its own groups, as many as the trained
    assert own["clean_edges"] > 0.8 * sum(la["clean_edges"] for la in analysis["layers"])
    assert own["blocks"] is not None  # resampled by the jackknife like a control


def test_a_checkpoint_as_good_as_the_trained_network_gates_no_verdict(run):
    root, analysis = run
    manifest = open_recording(root, verify=False).manifest
    found = analysis["findings"]
    alone = evaluate(without(analysis, {"epoch:1", "epoch:3"}), manifest)
    assert [f["supported"] for f in found] == [f["supported"] for f in alone]
    f5 = found[4]
    assert f5["supported"] is True and f5["value"] == alone[4]["value"]
    assert f5["details"]["controls"] == ["permute:layer"]
    assert list(f5["details"]["per_control"]) == ["permute:layer"]
    for f in found[:3]:  # the checkpoints' contrasts are computed, apart from the controls
        assert "epoch:3" not in f["details"].get("contrasts", {})
    assert not found[1]["details"]["checkpoint_contrasts"]["epoch:3"]["exceeds"]
    # the same network recorded as a control would fail finding 5: that is what is not gated
    as_control = evaluate(renamed(analysis, "epoch:3", "untrained"), manifest)[4]
    assert as_control["supported"] is False
    assert not as_control["details"]["per_control"]["untrained"]["decoding"]["exceeds"]
    assert "epoch" not in summary_frame(found)["controls"].str.cat()
    html = render_report(analysis, root / "analysis")
    assert "Training trajectory" in html and "Control networks (analysed with their own 1FC " \
        "groups): permute:layer." in html


def test_the_trajectory_lists_the_networks_in_epoch_order(run):
    _, analysis = run
    training = analysis["findings"][4]["details"]["training"]
    rows = training["networks"]
    assert [(r["network"], r["epoch"]) for r in rows] == [("epoch:1", 1), ("epoch:3", 3),
                                                          ("clean", "final")]
    decoding = {r["network"]: r["average_decoding"] for r in rows}
    for name in ("epoch:1", "epoch:3"):
        layers = analysis["conditions"][name]["layers"]
        assert decoding[name] == np.mean([la["decoding"]["average"]["accuracy"] for la in layers])
        expected = decoding_contrast(analysis["layers"], layers, _average_correct)
        got = next(r for r in rows if r["network"] == name)["contrasts"]
        assert got["5"] == {k: expected[k] for k in ("value", "lo", "hi", "exceeds")}
        for f in analysis["findings"][:3]:  # findings 1-3's own contrasts with it
            c = f["details"].get("checkpoint_contrasts", {}).get(name)
            assert got.get(f["id"]) == (None if c is None else
                                        {k: c[k] for k in ("value", "lo", "hi", "exceeds")})
    assert decoding["clean"] == np.mean([la["decoding"]["average"]["accuracy"]
                                         for la in analysis["layers"]])
    # epoch 1 learnt nothing: the trained network out-decodes it; epoch 3 decodes as well
    assert rows[0]["contrasts"]["5"]["exceeds"] and not rows[1]["contrasts"]["5"]["exceeds"]
    chance = 1 / len(SIZES)  # one class per planted ensemble
    assert abs(decoding["epoch:1"] - chance) < 0.03 < decoding["clean"] - chance
    assert abs(decoding["epoch:3"] - decoding["clean"]) < 0.03
    assert training["spearman_rho"] > 0 and rows[-1]["contrasts"] == {}
    # the terminal's table lists the same networks and contrasts
    shown = Console(width=250, record=True)
    shown.print(training_table(analysis["findings"]))
    lines = [line for line in shown.export_text().splitlines() if line.startswith("│")]
    assert [line.split("│")[2].strip() for line in lines] == ["epoch:1", "epoch:3", "clean"]
    c = rows[0]["contrasts"]["5"]
    assert f"{c['value']:.3g} [{c['lo']:.3g}, {c['hi']:.3g}]" in lines[0]
    assert training_table([{"id": "5", "details": {"training": {"networks": rows[-1:]}}}]) is None


def test_the_trajectory_starts_untrained_and_ends_at_the_trained_epochs(run):
    """The untrained network is epoch 0; the trained one's epoch is read from the checkpoint
    config the recording's provenance holds."""
    _, analysis = run
    found = analysis["findings"][:3]
    trained_for = {"recording_provenance": {"model": {"training": {"epochs": 8},
                                                      "metrics": {"epochs_done": 8}}}}
    moved = {**renamed(analysis, "epoch:1", "untrained"), "provenance": trained_for}
    rows = training_trajectory(moved, found)["networks"]
    assert [(r["network"], r["epoch"], r["role"]) for r in rows] == [
        ("untrained", 0, "control"), ("epoch:3", 3, "checkpoint"), ("clean", 8, "trained")]
    only_clean = training_trajectory(without(analysis, {"epoch:1", "epoch:3"}), found)
    assert [r["network"] for r in only_clean["networks"]] == ["clean"]
    assert only_clean["spearman_rho"] is None  # fewer than 3 networks
