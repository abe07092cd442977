"""Bias-corrected mutual information: ground truth both ways (no information at 240 images
reads as none; a known MI is recovered within its CI and closer than the plug-in value), the
CI's coverage, and agreement with a plain reference implementation."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from fcgraph.analysis.information import (
    ESTIMATORS,
    mutual_information,
    panzeri_treves_bias,
    plugin_mi,
    quadratic_extrapolation,
    table_plugin_mi,
)

CLASSES = 10
P_SPIKE = np.linspace(0.2, 0.6, CLASSES)  # P(response = 1 | class), classes equally likely


def _h2(p: np.ndarray) -> np.ndarray:
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


#: exact MI (bits) of a binary response with P_SPIKE: H(mean p) - mean H(p)
EXACT = float(_h2(P_SPIKE.mean()) - _h2(P_SPIKE).mean())


def _binary(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    s = np.repeat(np.arange(CLASSES), n // CLASSES)
    return s, (rng.random(s.size) < P_SPIKE[s]).astype(np.int64)


def _independent(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    s = np.repeat(np.arange(CLASSES), 24)  # 240 images, 10 classes
    return s, rng.poisson(2.0, s.size)  # spike counts that ignore the class


def test_no_information_at_240_images_reads_as_none():
    rng = np.random.default_rng(3)
    s, r = _independent(rng)
    out = mutual_information(s, r, rng=rng)
    assert out["mi_plugin"] > 0.1  # the plug-in bias alone
    assert out["mi_lo"] <= 0.0 <= out["mi_hi"]
    assert abs(out["mi"]) < 0.25 * out["mi_plugin"]
    assert np.isclose(out["bias"], out["mi_plugin"] - out["mi"])
    # over many such data sets: the plug-in's mean is all bias, the corrected mean near 0
    runs = [mutual_information(*_independent(rng), n_boot=0, rng=rng) for _ in range(60)]
    plug, corr = (np.mean([o[k] for o in runs]) for k in ("mi_plugin", "mi"))
    assert plug > 0.15 and abs(corr) < 0.03
    # Panzeri-Treves with naively counted bins corrects too little here (the module's doc)
    pt = np.mean([mutual_information(*_independent(rng), estimator="panzeri-treves",
                                     n_boot=0)["mi"] for _ in range(60)])
    assert 0.03 < pt < 0.5 * plug
    # the CI covers the true 0 about as often as it says
    cover = np.mean([(o["mi_lo"] <= 0 <= o["mi_hi"]) for o in
                     (mutual_information(*_independent(rng), n_boot=100, rng=rng)
                      for _ in range(60))])
    assert cover >= 0.85


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_known_information_is_recovered_within_its_ci(estimator):
    assert 0.049 < EXACT < 0.051  # H(0.4) - mean H(p): 0.0502 bits
    rng = np.random.default_rng(1)
    s, r = _binary(2000, rng)
    out = mutual_information(s, r, estimator=estimator, rng=rng)
    assert out["mi_lo"] <= EXACT <= out["mi_hi"]
    assert out["mi_hi"] - out["mi_lo"] < 0.05
    # closer than the plug-in value on average, at 240 and 2,000 images
    for n in (240, 2000):
        runs = [mutual_information(*_binary(n, rng), estimator=estimator, n_boot=0, rng=rng)
                for _ in range(60)]
        plug, corr = (np.mean([o[k] for o in runs]) for k in ("mi_plugin", "mi"))
        assert abs(corr - EXACT) < 0.3 * abs(plug - EXACT)
    cover = np.mean([(o["mi_lo"] <= EXACT <= o["mi_hi"]) for o in
                     (mutual_information(*_binary(240, rng), estimator=estimator, n_boot=100,
                                         rng=rng) for _ in range(60))])
    assert cover >= 0.85


def test_panzeri_treves_is_exact_for_a_binary_response_without_information():
    # R_s = R = 2 for every class: the correction is (C - 1) / (2 N ln 2), the chi-square mean
    rng = np.random.default_rng(4)
    runs = []
    for _ in range(200):
        s = np.repeat(np.arange(CLASSES), 24)
        r = (rng.random(s.size) < 0.4).astype(int)
        runs.append(mutual_information(s, r, estimator="panzeri-treves", n_boot=0))
    assert np.isclose(runs[0]["bias"], (CLASSES - 1) / (2 * 240 * math.log(2)))
    assert np.mean([o["mi_plugin"] for o in runs]) > 0.02
    assert abs(np.mean([o["mi"] for o in runs])) < 0.003


def _reference_plugin(s: list[int], r: list[int]) -> float:
    n = len(s)
    ps, pr, pj = Counter(s), Counter(r), Counter(zip(s, r, strict=True))
    return sum(c / n * math.log2(c * n / (ps[a] * pr[b])) for (a, b), c in pj.items())


def _reference_pt_bias(s: list[int], r: list[int]) -> float:
    n = len(s)
    r_s = sum(len({b for a2, b in zip(s, r, strict=True) if a2 == a}) - 1 for a in set(s))
    return (r_s - (len(set(r)) - 1)) / (2 * n * math.log(2))


def _reference_quadratic(s: list[int], r: list[int], n_splits: int, seed: int) -> float:
    """The same procedure in plain Python: the plug-in MI of all images, and its mean over
    ``n_splits`` class-stratified splits into halves and into quarters (each class's images
    shuffled and dealt round-robin), extrapolated by I = I_inf + a / n + b / n^2."""
    rng = np.random.default_rng(seed)
    classes = sorted(set(s))
    strata = [[i for i, a in enumerate(s) if a == c] for c in classes]
    points = [(len(s), _reference_plugin(s, r))]
    for parts in (2, 4):
        values, size = [], 0
        for _ in range(n_splits):
            subsets: list[list[int]] = [[] for _ in range(parts)]
            for idx in strata:
                m = len(idx) // parts
                perm = list(rng.permutation(np.array(idx)))[: m * parts]
                for j, i in enumerate(perm):
                    subsets[j % parts].append(int(i))
            for sub in subsets:
                values.append(_reference_plugin([s[i] for i in sub], [r[i] for i in sub]))
                size = len(sub)
        points.append((size, sum(values) / len(values)))
    (n1, i1), (n2, i2), (n3, i3) = points
    a = np.array([[1, 1 / n1, 1 / n1 ** 2], [1, 1 / n2, 1 / n2 ** 2], [1, 1 / n3, 1 / n3 ** 2]])
    return float(np.linalg.solve(a, [i1, i2, i3])[0])


def test_estimators_agree_with_a_plain_reference():
    rng = np.random.default_rng(7)
    s = rng.integers(0, 4, 90)
    r = (s + rng.integers(0, 3, 90)) % 5 * 10 + 3  # arbitrary response values
    sl, rl = s.tolist(), r.tolist()
    assert np.isclose(plugin_mi(s, r), _reference_plugin(sl, rl))
    table = np.zeros((4, 5), dtype=int)
    for a, b in zip(sl, rl, strict=True):
        table[a, (b - 3) // 10] += 1
    assert np.isclose(table_plugin_mi(table), _reference_plugin(sl, rl))
    assert np.isclose(table_plugin_mi(table.astype(float)), _reference_plugin(sl, rl))
    assert np.isclose(panzeri_treves_bias(table), _reference_pt_bias(sl, rl))
    pt = mutual_information(s, r, estimator="panzeri-treves", n_boot=0)
    assert np.isclose(pt["mi"], _reference_plugin(sl, rl) - _reference_pt_bias(sl, rl))
    assert np.isclose(quadratic_extrapolation(s, r, n_splits=3, rng=np.random.default_rng(11)),
                      _reference_quadratic(sl, rl, 3, 11))
    # a response that is the class itself: every subset has H(S) bits, so I_inf = H(S)
    s_bal = np.repeat(np.arange(4), 20)
    assert np.isclose(quadratic_extrapolation(s_bal, s_bal), 2.0)
    assert plugin_mi(np.array([]), np.array([])) == 0.0
    assert table_plugin_mi(np.zeros((3, 2), dtype=int)) == 0.0


def test_unknown_estimator_is_refused_and_small_classes_fall_back():
    with pytest.raises(ValueError, match="unknown MI estimator"):
        mutual_information(np.zeros(4), np.zeros(4), estimator="nsb")
    s = np.array([0, 0, 0, 1, 1, 1, 1, 1])  # class 0 cannot be split into quarters
    r = np.array([0, 1, 1, 2, 2, 0, 2, 2])
    with pytest.raises(ValueError, match="at least 4 images of every class"):
        quadratic_extrapolation(s, r)
    out = mutual_information(s, r, n_boot=20)
    assert out["estimator"] == "panzeri-treves"
    assert np.isclose(out["mi"], _reference_plugin(s.tolist(), r.tolist())
                      - _reference_pt_bias(s.tolist(), r.tolist()))


def test_reported_mi_is_the_corrected_value_with_the_plugin_beside_it():
    from fcgraph.analysis import decoding
    from fcgraph.analysis.events import event_summary
    from fcgraph.analysis.information import DEFAULT_ESTIMATOR

    rng = np.random.default_rng(2)
    # read-out of structureless features: its plug-in MI is bias, the corrected one near 0
    y = np.repeat(np.arange(CLASSES), 24)
    out = decoding.decode(rng.poisson(2.0, size=(y.size, 6)), y, n_shuffle=1, n_boot=100,
                          n_permutations=0)
    assert out["mi_estimator"] == DEFAULT_ESTIMATOR
    assert out["mi_bits_plugin"] > out["mi_bits"] and out["mi_bits_plugin"] > 0.1
    assert out["mi_bits_lo"] <= 0.0 <= out["mi_bits_hi"]
    assert out["shuffle_mi_bits_plugin"] > 0.1 and abs(out["shuffle_mi_bits"]) < 0.1
    # one neuron whose spikes ignore the class: its per-neuron MI, with and without a CI
    T = 8
    k = rng.poisson(3.0, y.size * T)
    spikes = rng.random(y.size * T) < 0.3
    ev, _ = event_summary(k, spikes, y, T, n_boot=100, rng=rng)
    assert ev["mi_estimator"] == DEFAULT_ESTIMATOR
    assert ev["mi_average_lo"] <= 0.0 <= ev["mi_average_hi"]
    assert ev["mi_average_plugin"] > ev["mi_average"]
    assert ev["mi_shuffle"] > 0.1  # the plug-in level without information
    ev0, _ = event_summary(k, spikes, y, T, n_boot=0, rng=rng)
    assert ev0["mi_event_lo"] is None and ev0["mi_event_hi"] is None
