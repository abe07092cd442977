"""Finding 4 end to end (``analyze_run``) on planted runs of three layers (two layer pairs):
perturbations whose damage to each pair's 1FC groups is planted, so the verdict is known both
ways."""

from __future__ import annotations

import numpy as np
import pytest

from fcgraph.analysis import AnalysisConfig, analyze_run
from fcgraph.analysis.synthetic import make_planted_deep_run

#: strong planted curves (12 ensembles of 8-30 members), so every planted edge is far above the
#: threshold and the clean groups are reliable; every post neuron in the block sample
PLANTED = {"n_images": 300, "sizes": tuple(range(8, 32, 2)), "gains": [0.05] * 12}
CONFIG = AnalysisConfig(n_boot=0, n_shuffle=0, max_neurons=None)
FLOOR = "uniform:0.001"
#: condition -> fraction of the early pair's (l0 -> l1) and the late pair's (l1 -> l2) groups
#: destroyed; noise hits early layers hardest, and more with its level
EARLY = {"uniform:0.05": (0.25, 0.0), "uniform:0.1": (0.5, 0.1), "uniform:0.2": (0.75, 0.25)}
#: the realistic way to be false: damage accumulates with depth (the late groups lose more)
DEEPER = {"uniform:0.05": (0.1, 0.25), "uniform:0.2": (0.25, 0.75)}
#: classifier accuracy per condition, falling with the noise level
ACCURACY = {"clean": 0.95, FLOOR: 0.95, "uniform:0.05": 0.85, "uniform:0.1": 0.7,
            "uniform:0.2": 0.5}


def finding_4(root, perturbations, **kwargs):
    truth = make_planted_deep_run(root, perturbations, accuracy=ACCURACY, seed=0,
                                  **PLANTED, **kwargs)
    analysis = analyze_run(root, CONFIG, figures=False)
    return analysis, analysis["findings"][3], truth


@pytest.fixture(scope="module")
def early(tmp_path_factory):
    return finding_4(tmp_path_factory.mktemp("f4") / "early", EARLY)


def assert_floor_is_no_disruption(analysis, f4):
    assert analysis["conditions"][FLOOR]["role"] == "floor"
    assert f4["details"]["floor_conditions"] == [FLOOR]
    for p in f4["details"]["per_condition"].values():
        assert min(p["floor_jaccard"].values()) > 0.95, p["floor_jaccard"]


def test_noise_that_destroys_early_groups_most_supports_finding_4(early):
    analysis, f4, truth = early
    assert [la["post_layer"] for la in analysis["layers"]] == ["l1", "l2"]
    assert f4["supported"] is True, f4["reason"]
    assert f4["ci_low"] > 0
    assert_floor_is_no_disruption(analysis, f4)
    # it holds in each half of the images, and both halves find the planted groups
    assert min(f4["details"]["pooled"]["halves"]) > 0, f4["details"]["pooled"]
    assert all(0.5 < j <= 1 for j in f4["details"]["split_half_jaccard"].values())
    per = f4["details"]["per_condition"]
    assert sorted(per) == sorted(EARLY)
    sizes = np.array(PLANTED["sizes"])
    for name, (frac_early, frac_late) in EARLY.items():
        p = per[name]
        assert p["disrupted"] and p["early_minus_late"]["lo"] > 0, (name, p)
        # the measured disruption is the planted share of the groups' members whose group was
        # destroyed (each member of a clean group counts once; + the jitter's)
        for layer, frac in (("l1", frac_early), ("l2", frac_late)):
            destroyed = truth["destroyed"][name][layer]
            assert destroyed.size == round(frac * 12)
            share = sizes[destroyed].sum() / sizes.sum()
            assert p["disruption"][layer] == pytest.approx(share, abs=0.05), (name, layer, p)
    dose = f4["details"]["dose_response"]
    assert [r["condition"] for r in dose["rows"]] == ["uniform:0.05", "uniform:0.1", "uniform:0.2"]
    assert [r["accuracy_drop"] for r in dose["rows"]] == pytest.approx([0.1, 0.25, 0.45])
    assert dose["rho_disruption_accuracy_drop"] == pytest.approx(1.0)


def test_noise_that_destroys_late_groups_most_fails_finding_4(tmp_path):
    analysis, f4, _ = finding_4(tmp_path / "deeper", DEEPER)
    assert f4["supported"] is False and f4["reason"] == "disruption not larger in early layers"
    assert f4["ci_high"] < 0
    assert_floor_is_no_disruption(analysis, f4)
    for name, p in f4["details"]["per_condition"].items():
        assert p["disrupted"], name  # the groups are disrupted, only not most in early layers
        assert p["early_minus_late"]["value"] < 0, (name, p)
        assert p["disruption"]["l2"] > p["disruption"]["l1"] + 0.1, (name, p)
    assert f4["details"]["per_condition"]["uniform:0.2"]["early_minus_late"]["hi"] < 0


def test_noise_as_weak_as_the_floor_fails_finding_4(tmp_path):
    """A robust network: a perturbation that changes the spikes no more than the floor's
    re-measurement does destroys no group, so no layer pair is disrupted beyond the floor."""
    analysis, f4, _ = finding_4(tmp_path / "robust", {"uniform:0.1": (0.0, 0.0)}, noise=0.01)
    assert f4["supported"] is False
    assert f4["reason"] == "a perturbation changes no layer pair beyond the floor"
    assert_floor_is_no_disruption(analysis, f4)
    (p,) = f4["details"]["per_condition"].values()
    assert not p["disrupted"] and min(p["jaccard"].values()) > 0.95, p
    assert p["early_minus_late"]["lo"] < 0 < p["early_minus_late"]["hi"], p


def test_chance_edges_alone_do_not_make_early_disruption(tmp_path):
    """Noise that jitters every spike but destroys no planted group, on edges at fc's default
    threshold (z = 3), where ``l1``'s ~90 group-less neurons get a few chance edges from ``l0``
    that 5% jitter flips (the floor's 0.1% does not): counted alike with the groups they made
    ~0.2 of disruption in ``l1`` though every planted group survives; only neurons whose clean
    in-edges are a group (``min_group``) are counted."""
    _, f4, _ = finding_4(tmp_path / "z3", {"uniform:0.05": (0.0, 0.0)}, z=3.0)
    (p,) = f4["details"]["per_condition"].values()
    assert p["disruption"]["l1"] < 0.1, p
