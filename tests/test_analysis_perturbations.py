"""Edge-set comparison on known edge sets, chance levels, and the findings' criteria on
hand-made analyses (so each verdict's logic is checked apart from the data)."""

from __future__ import annotations

import numpy as np

from fcgraph.analysis import findings
from fcgraph.analysis.perturbations import chance_jaccard, compare_edges


def test_compare_edges_on_known_sets():
    # clean: (pre, post) = (0,0) (1,0) (2,1) (3,1); other keeps (0,0) (2,1), gains (3,0)
    clean = (np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]))
    other = (np.array([0, 2, 3]), np.array([0, 1, 0]))
    out = compare_edges(clean, other, n_pre=4, n_post=2)
    assert (out["kept"], out["lost"], out["gained"]) == (2, 2, 1)
    assert out["lost_fraction"] == 0.5 and np.isclose(out["jaccard"], 2 / 5)
    inter = 4 * 3 / 8
    assert np.isclose(out["jaccard_chance"], inter / (7 - inter))
    # post 0: clean {0,1}, other {0,3} -> 1/3; post 1: clean {2,3}, other {2} -> 1/2
    assert np.isclose(out["neuron_jaccard"], (1 / 3 + 1 / 2) / 2)
    assert out["n_neurons"] == 2


def test_identical_sets_survive_and_random_sets_sit_at_chance():
    rng = np.random.default_rng(0)
    n_pre, n_post = 200, 100
    a = rng.random((n_pre, n_post)) < 0.1
    b = rng.random((n_pre, n_post)) < 0.1
    clean = np.nonzero(a)
    same = compare_edges(clean, clean, n_pre, n_post)
    assert same["jaccard"] == 1.0 and same["survival"] == 1.0 and same["neuron_survival"] == 1.0
    rand = compare_edges(clean, np.nonzero(b), n_pre, n_post)
    assert abs(rand["jaccard"] - rand["jaccard_chance"]) < 0.01
    assert abs(rand["survival"]) < 0.02
    assert rand["neuron_survival_lo"] < 0 < rand["neuron_survival_hi"] or \
        abs(rand["neuron_survival"]) < 0.02
    assert np.isclose(chance_jaccard(10, 10, 100), 1 / 19)


def _cond_layer(post: str, jac: float, half: float) -> dict:
    return {"post_layer": post, "decoding": {"average": {"correct": None}},
            "edges": {"neuron_jaccard": jac, "neuron_jaccard_lo": jac - half,
                      "neuron_jaccard_hi": jac + half, "neuron_jaccard_chance": 0.01,
                      "neuron_survival": jac, "neuron_survival_lo": jac - half,
                      "neuron_survival_hi": jac + half}}


def test_finding_4_needs_early_layers_more_disrupted():
    early_hit = {"conditions": {"uniform:0.2": {"kind": "uniform", "layers": [
        _cond_layer("a", 0.08, 0.02), _cond_layer("b", 0.10, 0.02), _cond_layer("c", 0.25, 0.03)]}}}
    f = findings.finding_4(early_hit)
    assert f["supported"] is True and f["value"] > 0 and f["ci_low"] > 0
    flat = {"conditions": {"uniform:0.2": {"kind": "uniform", "layers": [
        _cond_layer("a", 0.10, 0.05), _cond_layer("b", 0.10, 0.05), _cond_layer("c", 0.10, 0.05)]}}}
    assert findings.finding_4(flat)["supported"] is False
    intact = {"conditions": {"fgsm:0.1": {"kind": "fgsm", "layers": [
        _cond_layer("a", 0.70, 0.02), _cond_layer("b", 0.75, 0.02), _cond_layer("c", 0.9, 0.02)]}}}
    assert findings.finding_4(intact)["supported"] is False  # not disrupted
    assert findings.finding_4({"conditions": {}})["supported"] is None


def _layer(n_fit: int, n_tl: int, rho: float | None, half: float = 0.1) -> dict:
    return {"io": {"n_fitted": n_fit, "n_threshold_linear": n_tl,
                   "gain_vs_size": {"n": n_fit, "rho": rho,
                                    "rho_lo": None if rho is None else rho - half,
                                    "rho_hi": None if rho is None else rho + half}}}


def test_finding_3_criterion():
    ok = {"layers": [_layer(40, 35, 0.6), _layer(30, 25, 0.4)]}
    assert findings.finding_3(ok, 0.01)["supported"] is True
    no_rho = {"layers": [_layer(40, 35, 0.05, 0.2), _layer(30, 25, 0.0, 0.2)]}
    assert findings.finding_3(no_rho, 0.01)["supported"] is False
    linear = {"layers": [_layer(40, 5, 0.6), _layer(30, 3, 0.4)]}
    assert findings.finding_3(linear, 0.01)["supported"] is False
    few = {"layers": [_layer(5, 5, 0.9)]}
    f = findings.finding_3(few, 0.01)
    assert f["supported"] is False and "fewer than 10" in f["reason"]
