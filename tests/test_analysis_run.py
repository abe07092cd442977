"""`analyze_run` and the CLI end to end on planted and structureless recordings (fast, synthetic,
written per the recording and edge contracts): findings, files, resume, report, errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from fcgraph.analysis import AnalysisConfig, analyze_run, run
from fcgraph.analysis.report import write_report
from fcgraph.analysis.synthetic import make_planted_run
from fcgraph.cli import app

runner = CliRunner()
SIZES = tuple(range(8, 32, 2))
FAST = AnalysisConfig(n_boot=30, n_shuffle=1)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("an") / "planted"
    make_planted_run(root, n_images=300, sizes=SIZES, seed=0)
    return root


@pytest.fixture(scope="module")
def noise(tmp_path_factory):
    root = tmp_path_factory.mktemp("an") / "noise"
    make_planted_run(root, run_id="noise", n_images=300, sizes=SIZES, structure=False, seed=0)
    return root


@pytest.fixture(scope="module")
def planted_analysis(planted):
    return analyze_run(planted, FAST)


def verdicts(analysis):
    return {f["id"]: f["supported"] for f in analysis["findings"]}


def test_planted_run_supports_groups_events_and_learning(planted_analysis, planted):
    v = verdicts(planted_analysis)
    assert v["1"] is True and v["2"] is True and v["5"] is True
    assert v["4"] is False  # one layer pair: early vs late cannot be told apart
    f2 = planted_analysis["findings"][1]
    assert f2["ci_low"] > 0 and f2["details"]["median_event_fraction"] <= 0.1
    (layer,) = planted_analysis["layers"]
    assert layer["pre_layer"] == "pre" and layer["post_layer"] == "post"
    assert layer["group_sizes"]["n_neurons"] == len(SIZES)
    perm = planted_analysis["conditions"]["permute:layer"]["layers"][0]["edges"]
    assert perm["survival"] < 0.1 and perm["jaccard_chance"] is not None
    noisy = planted_analysis["conditions"]["uniform:0.1"]["layers"][0]["edges"]
    assert 0 < noisy["lost_fraction"] <= 1 and noisy["jaccard"] > perm["jaccard"]


def test_outputs_follow_the_layout(planted_analysis, planted):
    out = planted / "analysis"
    data = json.loads((out / "analysis.json").read_text())
    assert data["format"] == "fcgraph.analysis" and data["run_id"] == "planted"
    assert [f["id"] for f in data["findings"]] == ["1", "2", "3", "4", "5"]
    for f in data["findings"]:
        assert {"claim", "statistic", "value", "ci_low", "ci_high", "criterion",
                "supported"} <= set(f)
    neurons = pd.read_parquet(out / "neurons.parquet")
    assert list(neurons.columns) == list(run.NEURON_COLUMNS)
    clean = neurons[neurons["condition"] == "clean"]
    assert len(clean) == len(SIZES) and clean["analysed"].sum() >= 8
    fitted = clean[clean["analysed"]]
    assert (fitted["gain"].notna()).all() and (fitted["gain_lo"] <= fitted["gain_hi"]).all()
    for name in ("io_curves", "gain_vs_size", "decoding", "edge_loss"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
        assert (out / "figures" / f"{name}.svg").read_text().lstrip().startswith("<?xml")


def test_structureless_run_fails_the_findings(noise):
    analysis = analyze_run(noise, FAST)
    v = verdicts(analysis)
    assert v["1"] is False and v["2"] is False and v["3"] is False and v["5"] is False
    assert analysis["findings"][0]["ci_low"] < 2  # edge rate not clearly above false edges


def test_rerun_resumes_from_parts(planted, planted_analysis, monkeypatch):
    parts = sorted((planted / "analysis" / ".parts").rglob("*.json"))
    assert len(parts) == 3  # one per condition and layer pair

    def boom(*args, **kwargs):
        raise AssertionError("recomputed a finished part")

    monkeypatch.setattr(run, "_analyse_pair", boom)
    again = analyze_run(planted, FAST, figures=False)
    assert verdicts(again) == verdicts(planted_analysis)
    with pytest.raises(AssertionError, match="recomputed"):  # other parameters: recomputed
        analyze_run(planted, AnalysisConfig(n_boot=31, n_shuffle=1), figures=False)


def test_report_is_self_contained(planted, planted_analysis):
    html = write_report(planted).read_text()
    assert html.count("data:image/png;base64,") == 4
    assert "http://" not in html and "https://" not in html and "<script" not in html
    for f in planted_analysis["findings"]:
        assert f["criterion"].split(",")[0][:30].replace(">", "&gt;").replace("<", "&lt;") in html


def test_cli_analyze_and_report(planted, tmp_path):
    result = runner.invoke(app, ["analyze", str(planted), "--n-boot", "30", "--n-shuffle", "1",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "findings" in result.output and "report.html" in result.output
    result = runner.invoke(app, ["report", str(planted)])
    assert result.exit_code == 0 and "report.html" in result.output
    missing = runner.invoke(app, ["report", str(tmp_path)])
    assert missing.exit_code == 1 and "fcgraph analyze" in missing.output


def test_cli_refuses_a_recording_without_edges(tmp_path):
    from fcgraph.analysis.synthetic import planted_spikes, write_recording

    truth = planted_spikes(n_images=40, sizes=(4,), seed=0)
    write_recording(tmp_path / "r", "r", [("pre", (truth["pre"].shape[0],)), ("post", (1,))], 8,
                    truth["labels"], {"clean": {"pre": truth["pre"], "post": truth["post"]}})
    result = runner.invoke(app, ["analyze", str(tmp_path / "r"), "--no-progress"])
    assert result.exit_code == 1 and "fcgraph fc" in result.output
