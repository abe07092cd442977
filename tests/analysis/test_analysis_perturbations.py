"""Edge-set comparison on known edge sets, chance levels, and the findings' criteria on
hand-made analyses (so each verdict's logic is checked apart from the data)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fcgraph.analysis import findings
from fcgraph.analysis.blocks import jackknife
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


def test_chance_counts_only_pairs_tested_under_both_conditions():
    # 4 of 8 pre neurons fire enough under both conditions: only 4 x 2 pairs could be edges twice
    clean = (np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]))
    other = (np.array([0, 2, 3]), np.array([0, 1, 0]))
    every = compare_edges(clean, other, n_pre=8, n_post=2)
    tested = compare_edges(clean, other, n_pre=8, n_post=2, n_pairs=8, n_pre_tested=4)
    assert np.isclose(every["jaccard_chance"], chance_jaccard(4, 3, 16))
    assert np.isclose(tested["jaccard_chance"], chance_jaccard(4, 3, 8))
    assert tested["jaccard"] == every["jaccard"] and tested["survival"] < every["survival"]
    # per neuron: post 0 has groups {0,1} / {0,3}, N = 4 tested pre neurons
    assert np.isclose(tested["neuron_jaccard_chance"],
                      np.mean([chance_jaccard(2, 2, 4), chance_jaccard(2, 1, 4)]))


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


def _replicates(value: float, half: float, seed: list[int], n_groups: int = 10) -> list[float]:
    """[value, then n_groups jackknife replicates] whose jackknife 95% CI is value +- half
    (a seeded random pattern, so two layers or conditions vary independently)."""
    z = np.random.default_rng(seed).standard_normal(n_groups)
    z -= z.mean()
    se_unit = np.sqrt((n_groups - 1) / n_groups * np.sum(z ** 2))
    scale = half / (stats.t.ppf(0.975, n_groups - 1) * se_unit)
    return [value, *(value + scale * z).tolist()]


def test_replicates_helper_gives_the_asked_interval():
    jk = jackknife(_replicates(0.5, 0.03, [1]))
    assert np.isclose(jk["lo"], 0.47) and np.isclose(jk["hi"], 0.53)


def _cond_layer(post: str, jac: float, half: float,
                halves: tuple[float, float] | None = None) -> dict:
    """A condition's layer pair: its neuron Jaccard with clean (``edges``, CI over neurons, as
    reported) and its image-block jackknife replicates with a CI of +- ``half`` (``blocks``,
    what finding 4 uses), and its Jaccard on each half of the images when given."""
    seed = [ord(post), int(round(jac * 1000)), int(round(half * 1000))]
    blocks = {"n_groups": 10, "neuron_jaccard": _replicates(jac, half, seed)}
    if halves is not None:
        blocks["neuron_jaccard_halves"] = list(halves)
    return {"post_layer": post, "decoding": {"average": {"correct": None}},
            "blocks": blocks,
            "edges": {"neuron_jaccard": jac, "neuron_jaccard_lo": jac - half,
                      "neuron_jaccard_hi": jac + half, "neuron_jaccard_chance": 0.01,
                      "neuron_survival": jac, "neuron_survival_lo": jac - half,
                      "neuron_survival_hi": jac + half}}


def _analysis(post_layers: str, **conditions: list[dict]) -> dict:
    return {"layers": [{"post_layer": p} for p in post_layers],
            "conditions": {name.replace("_", ":", 1).replace("_", "."): {"layers": layers}
                           for name, layers in conditions.items()}}


FLOOR = [_cond_layer("a", 0.80, 0.02), _cond_layer("b", 0.70, 0.02), _cond_layer("c", 0.40, 0.03)]


def test_finding_4_measures_disruption_beyond_the_reliability_floor():
    # the floor (uniform:0.001) already changes late groups most: re-measurement, not disruption
    early_hit = _analysis("abc", uniform_0_001=FLOOR, uniform_0_2=[
        _cond_layer("a", 0.10, 0.02), _cond_layer("b", 0.15, 0.02), _cond_layer("c", 0.30, 0.03)])
    f = findings.finding_4(early_hit)
    assert f["supported"] is True and f["ci_low"] > 0, f
    assert f["details"]["floor_conditions"] == ["uniform:0.001"]
    disruption = f["details"]["per_condition"]["uniform:0.2"]["disruption"]
    assert np.allclose([disruption[p] for p in "abc"], [0.70, 0.55, 0.10])
    # raw Jaccard rises with depth, as it does for the floor itself: no early disruption
    like_floor = _analysis("abc", uniform_0_001=FLOOR, uniform_0_2=[
        _cond_layer("a", 0.60, 0.02), _cond_layer("b", 0.50, 0.02), _cond_layer("c", 0.20, 0.03)])
    assert findings.finding_4(like_floor)["supported"] is False
    # a perturbation that does nothing (a second negligible-noise repeat at level 0.01 would be a
    # floor; here an attack that leaves groups as a repeat does) changes nothing beyond the floor
    nothing = _analysis("abc", uniform_0_001=FLOOR, fgsm_0_001=[
        _cond_layer("a", 0.79, 0.02), _cond_layer("b", 0.71, 0.02), _cond_layer("c", 0.41, 0.03)])
    f = findings.finding_4(nothing)
    assert f["supported"] is False and "beyond the floor" in f["reason"]
    no_floor = _analysis("abc", uniform_0_2=early_hit["conditions"]["uniform:0.2"]["layers"])
    f = findings.finding_4(no_floor)
    assert f["supported"] is None and "reliability floor" in f["reason"]
    assert findings.finding_4({"layers": [], "conditions": {}})["supported"] is None


def test_condition_roles():
    roles = {c: findings.condition_role(c) for c in (
        "clean", "permute:layer", "untrained", "uniform:0.001", "gaussian:0.01", "uniform:0.1",
        "fgsm:0.001", "pgd:0.02:10")}
    assert roles == {"clean": "trained", "permute:layer": "control", "untrained": "control",
                     "uniform:0.001": "floor", "gaussian:0.01": "floor",
                     "uniform:0.1": "perturbation", "fgsm:0.001": "perturbation",
                     "pgd:0.02:10": "perturbation"}


def _law(beta: float, half: float = 0.1, n: int = 30) -> dict:
    return {"n": n, "beta": beta, "beta_lo": beta - half, "beta_hi": beta + half}


def _io_replicates(n_fit: int, n_tl: int, beta: float, phase: int = 1, groups: int = 10
                   ) -> dict:
    """Jackknife replicates around the all-images values: the ReLU-like count and beta moved by
    +-1 and +-0.017 in turn (a jackknife SE of about 0.05 for beta), starting up or down by
    ``phase``."""
    sign = phase * np.where(np.arange(groups) % 2, 1, -1)
    return {"n_fitted": [n_fit] * groups,
            "n_relu_like": np.clip(n_tl + sign, 0, n_fit).tolist(),
            "beta": (beta + 0.017 * sign).tolist(), "n_beta": [n_fit] * groups}


def _layer(n_fit: int, n_tl: int, beta: float, random_beta: float = -1.0,
           random_tl: int = 2, random_gain: float = 0.05) -> dict:
    """A layer's out-of-sample io summary: its groups' fits and those of same-size random
    groups (``n_tl`` of them ReLU-like, mean gain ``random_gain``), each with its jackknife
    replicates."""
    rand = _io_replicates(n_fit, random_tl, random_beta, -1)
    rand["mean_gain"] = (random_gain + 0.003 * np.where(np.arange(10) % 2, 1, -1)).tolist()
    return {"post_layer": "p", "io": {"out_of_sample": {
        "n_fitted": n_fit, "n_relu_like": n_tl, "gain_vs_size": {"n": n_fit, "rho": None},
        "gain_law": _law(beta, n=n_fit), "replicates": _io_replicates(n_fit, n_tl, beta),
        "random_groups": {"n_fitted": n_fit, "n_relu_like": random_tl, "mean_gain": random_gain,
                          "gain_law": _law(random_beta, n=n_fit), "replicates": rand}}}}


def test_finding_3_criterion_and_its_control():
    # per-member gain falls with size, but less steeply than for random groups: beta excess > 0
    ok = [_layer(40, 35, -0.5), _layer(30, 25, -0.4)]
    f = findings.finding_3({"layers": ok}, 0.01)
    assert f["supported"] is None and np.isclose(f["value"], (40 * 0.5 + 30 * 0.6) / 70)
    random_net = {"layers": ok, "networks": {"untrained": {"layers": [
        _layer(40, 10, -1.0), _layer(30, 5, -1.0)]}}}
    assert findings.finding_3(random_net, 0.01)["supported"] is True
    same_net = {"layers": ok, "networks": {"untrained": {"layers": ok}}}
    f = findings.finding_3(same_net, 0.01)
    assert f["supported"] is False and "untrained" in f["reason"]
    # as steep as random groups: the size scaling is that of any sum of neurons
    like_random = {"layers": [_layer(40, 35, -1.0), _layer(30, 25, -1.02)]}
    f = findings.finding_3(like_random, 0.01)
    assert f["supported"] is False and "is flat" in f["reason"]
    # random groups just as threshold-linear: the shape is not the groups'
    shape_of_any = {"layers": [_layer(40, 35, -0.5, random_tl=35), _layer(30, 25, -0.4,
                                                                          random_tl=25)]}
    assert findings.finding_3(shape_of_any, 0.01)["supported"] is False
    # random groups without a gain have no size law: the groups' falling gain is compared with
    # a flat one, and falls
    no_gain = {"layers": [_layer(40, 35, -0.5, random_gain=0.0),
                          _layer(30, 25, -0.4, random_gain=0.0)]}
    f = findings.finding_3(no_gain, 0.01)
    assert f["details"]["random_without_gain"] and f["value"] < 0
    assert f["supported"] is False and "falls" in f["reason"]
    linear = {"layers": [_layer(40, 5, -0.5), _layer(30, 3, -0.4)]}
    assert findings.finding_3(linear, 0.01)["supported"] is False
    f = findings.finding_3({"layers": [_layer(5, 5, 0.9)]}, 0.01)
    assert f["supported"] is False and "fewer than 10" in f["reason"]
    # the verdict reads the curves fitted out of sample: in-sample fits that look ReLU-like (the
    # groups chosen on the bins they are fitted on) do not rescue curves that are not out of it
    inflated = [{"post_layer": "p", "io": {"in_sample": _layer(40, 40, 0.5)["io"]["out_of_sample"],
                                           "out_of_sample": _layer(40, 5, -1.0)["io"]["out_of_sample"]}}]
    f = findings.finding_3({**random_net, "layers": inflated}, 0.01)
    assert f["supported"] is False and f["details"]["in_sample"]["share"] == 1.0
    assert f["details"]["share"] == 5 / 40


def test_readme_lists_the_criteria_of_the_code():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert findings.criteria_markdown() in readme, \
        "README's findings table differs from the code: run scripts/readme_findings.py"
    assert findings.terms_markdown() in readme, \
        "README's definitions differ from the code: run scripts/readme_findings.py"
    for term in ("1FC group", "STTC", "exact null", "shift null"):  # each defined in a line
        assert f"- **{term}**: " in readme


def test_dose_response_ties_disruption_to_the_accuracy_drop():
    def pert(j: float) -> list[dict]:
        return [_cond_layer(p, j, 0.02) for p in "abc"]

    analysis = _analysis("abc", uniform_0_001=FLOOR, uniform_0_1=pert(0.5), uniform_0_2=pert(0.3),
                         fgsm_0_02=pert(0.1))
    analysis["clean_accuracy"] = 0.97
    for name, acc in (("uniform:0.1", 0.94), ("uniform:0.2", 0.89), ("fgsm:0.02", 0.23)):
        analysis["conditions"][name]["accuracy"] = acc
    dose = findings.finding_4(analysis)["details"]["dose_response"]
    assert [r["condition"] for r in dose["rows"]] == ["uniform:0.1", "uniform:0.2", "fgsm:0.02"]
    assert np.isclose(dose["rows"][0]["accuracy_drop"], 0.03)
    assert np.isclose(dose["rho_disruption_accuracy_drop"], 1.0)


def test_dose_response_measures_the_io_profiles_beyond_the_floor():
    """A perturbation that doubles the median gain and moves the threshold by half, against a
    floor that moves them by 10 %: the change beyond the floor is the difference of the two."""
    def with_io(layers: list[dict], gain: float, threshold: float) -> list[dict]:
        return [{**la, "io": {"median_gain": gain, "median_threshold": threshold}} for la in layers]

    analysis = _analysis("abc", uniform_0_001=with_io(FLOOR, 1.1, 2.2),
                         uniform_0_2=with_io([_cond_layer(p, 0.2, 0.02) for p in "abc"], 2.0, 3.0))
    for la in analysis["layers"]:
        la["io"] = {"median_gain": 1.0, "median_threshold": 2.0}
    (row,) = findings.finding_4(analysis)["details"]["dose_response"]["rows"]
    assert np.isclose(row["gain_change_beyond_floor"], 1.0 - np.log2(1.1))
    assert np.isclose(row["threshold_change_beyond_floor"], 0.5 - 0.1)
    no_io = _analysis("abc", uniform_0_001=FLOOR, uniform_0_2=[_cond_layer(p, 0.2, 0.02)
                                                               for p in "abc"])
    (row,) = findings.finding_4(no_io)["details"]["dose_response"]["rows"]
    assert row["gain_change_beyond_floor"] is None and row["threshold_change_beyond_floor"] is None


def test_finding_4_needs_disruption_beyond_the_floor_draws_spread():
    """Two draws of the floor's noise: when they agree, the early disruption is supported as with
    one; when they differ as much as the disruption's early-minus-late contrast, that seed-to-seed
    spread widens every interval and the contrast is no longer resolved."""
    hit = [_cond_layer("a", 0.45, 0.02), _cond_layer("b", 0.45, 0.02), _cond_layer("c", 0.35, 0.03)]
    agree = [_cond_layer("a", 0.81, 0.02), _cond_layer("b", 0.69, 0.02),
             _cond_layer("c", 0.41, 0.03)]
    apart = [_cond_layer("a", 0.60, 0.02), _cond_layer("b", 0.50, 0.02),
             _cond_layer("c", 0.60, 0.03)]

    def run(second_floor):
        analysis = _analysis("abc", uniform_0_001=FLOOR, uniform_0_2=hit)
        analysis["conditions"]["uniform:0.001:r2"] = {"layers": second_floor}
        return findings.finding_4(analysis)

    one = findings.finding_4(_analysis("abc", uniform_0_001=FLOOR, uniform_0_2=hit))
    assert one["supported"] is True and one["details"]["floor_draws"] == 1
    close = run(agree)
    assert close["supported"] is True and close["details"]["floor_draws"] == 2
    assert close["details"]["floor_seed_sd"]["a"] == pytest.approx(np.std([0.80, 0.81], ddof=1))
    far = run(apart)
    assert far["supported"] is False and far["ci_low"] < 0 < far["value"], far
    em = far["details"]["per_condition"]["uniform:0.2"]["early_minus_late"]
    assert em["seed_se"] > 0 and em["lo"] < 0


def test_finding_4_must_hold_in_both_halves_of_the_images():
    """The early-minus-late contrast measured on each half of the images: halves that agree
    leave the verdict as on all images; a contrast that one half reverses is not supported
    (an effect of some images, not of the perturbation); halves that differ by more than the
    jackknife's interval widen it by their spread |S_A - S_B| / 2."""
    def floor(shift=0.0):
        return [_cond_layer("a", 0.80, 0.02, (0.78, 0.78)), _cond_layer("b", 0.70, 0.02, (0.68, 0.68)),
                _cond_layer("c", 0.40, 0.03, (0.38 + shift, 0.38 - shift))]

    def hit(a_halves, c_halves):
        return [_cond_layer("a", 0.10, 0.02, a_halves), _cond_layer("b", 0.15, 0.02, (0.13, 0.13)),
                _cond_layer("c", 0.30, 0.03, c_halves)]

    agree = findings.finding_4(_analysis("abc", uniform_0_001=floor(),
                                         uniform_0_2=hit((0.08, 0.08), (0.28, 0.28))))
    assert agree["supported"] is True, agree
    pooled = agree["details"]["pooled"]
    assert pooled["halves"] == pytest.approx([0.525, 0.525]) and pooled["split_half_se"] == 0
    # half B: the early layer barely disrupted, the last one hit hard
    reversed_b = findings.finding_4(_analysis("abc", uniform_0_001=floor(),
                                              uniform_0_2=hit((0.08, 0.70), (0.28, 0.05))))
    assert reversed_b["supported"] is False and "both halves" in reversed_b["reason"], reversed_b
    assert reversed_b["details"]["pooled"]["halves"][1] < 0 < reversed_b["value"]
    # both halves positive but far apart: the images' SE is their spread, not the jackknife's
    spread = findings.finding_4(_analysis("abc", uniform_0_001=floor(),
                                          uniform_0_2=hit((0.08, 0.50), (0.28, 0.28))))
    em = spread["details"]["pooled"]
    assert em["split_half_se"] == pytest.approx(abs(em["halves"][0] - em["halves"][1]) / 2)
    assert em["se"] == pytest.approx(em["split_half_se"])
    assert em["lo"] < agree["ci_low"] and em["value"] == pytest.approx(agree["value"])


def test_the_floor_draws_spread_of_the_contrast_keeps_the_layers_together():
    """A second floor draw 0.15 lower in every layer: each layer's seed SD is large (0.11), but
    the draws agree on the early-minus-late contrast, so its seed error is 0 and the contrast
    stays supported (layers taken as independent, its seed SD would be ~0.16 and the interval
    would reach down to ~0.16); the per-layer intervals do widen."""
    hit = [_cond_layer("a", 0.10, 0.02), _cond_layer("b", 0.15, 0.02), _cond_layer("c", 0.30, 0.03)]
    lower = [_cond_layer("a", 0.65, 0.02), _cond_layer("b", 0.55, 0.02),
             _cond_layer("c", 0.25, 0.03)]
    analysis = _analysis("abc", uniform_0_001=FLOOR, uniform_0_2=hit)
    analysis["conditions"]["uniform:0.001:r2"] = {"layers": lower}
    f = findings.finding_4(analysis)
    assert f["supported"] is True, f["reason"]
    assert f["details"]["floor_seed_sd"]["a"] == pytest.approx(0.15 / np.sqrt(2))
    p = f["details"]["per_condition"]["uniform:0.2"]
    assert p["early_minus_late"].get("seed_se", 0) < 1e-9  # no seed error in the contrast
    one = findings.finding_4(_analysis("abc", uniform_0_001=FLOOR, uniform_0_2=hit))
    lo_one, hi_one = one["details"]["per_condition"]["uniform:0.2"]["disruption_ci"]["a"]
    lo, hi = p["disruption_ci"]["a"]
    assert hi - lo > (hi_one - lo_one) + 0.2  # but each layer's interval does widen
