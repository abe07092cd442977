"""Events and decoding: planted class-specific events are read out better than average activity,
the label-shuffle baseline sits at chance, and the MI estimator matches scikit-learn's."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mutual_info_score

from fcgraph.analysis import decoding
from fcgraph.analysis.events import event_summary, event_threshold, image_features
from fcgraph.analysis.information import plugin_mi
from fcgraph.analysis.io_curve import aggregate_cofiring
from fcgraph.analysis.synthetic import planted_spikes


def test_plugin_mi_matches_sklearn():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 6, 700)
    b = (a + rng.integers(0, 3, 700)) % 5
    assert np.isclose(plugin_mi(a, b), mutual_info_score(a, b) / np.log(2))
    assert plugin_mi(a, np.zeros_like(a)) == 0.0


def test_event_threshold_and_features():
    k = np.array([0, 0, 0, 5, 0, 0, 6, 1])  # 2 images of T = 4
    y = np.array([1, 0, 0, 1, 1, 0, 1, 1], dtype=bool)
    assert event_threshold(k, 75) == 2 and event_threshold(np.zeros(10, int), 95) == 1
    ev, avg, bins = image_features(k, y, 4, 5)
    assert ev.tolist() == [1, 1] and avg.tolist() == [2, 3] and bins.tolist() == [1, 1]


def test_planted_event_encoding_beats_average_and_shuffle_is_chance():
    truth = planted_spikes(n_images=600, sizes=(12, 14, 16, 18), seed=2)
    labels, T = truth["labels"], truth["T"]
    ev_feats, avg_feats, mi_e, mi_a = [], [], [], []
    rng = np.random.default_rng(0)
    for j, members in enumerate(truth["members"]):
        k = aggregate_cofiring(truth["pre"], members)
        summary, feats = event_summary(k, truth["post"][j], labels, T, rng=rng)
        ev, avg = feats["event"], feats["average"]
        assert summary["event_fraction"] <= 0.12  # rare
        assert summary["p_spike_event"] > 2 * summary["p_spike"]
        ev_feats.append(ev)
        avg_feats.append(avg)
        mi_e.append(summary["mi_event"])
        mi_a.append(summary["mi_average"])
    assert np.mean(mi_e) > np.mean(mi_a) > 0
    event = decoding.decode(np.stack(ev_feats, 1), labels, n_shuffle=3)
    average = decoding.decode(np.stack(avg_feats, 1), labels, n_shuffle=3)
    diff = decoding.compare(event, average)
    assert event["accuracy_lo"] > event["shuffle_accuracy"] + 0.1
    assert diff["difference_lo"] > 0
    assert abs(event["shuffle_accuracy"] - 0.25) < 0.08  # chance with 4 balanced classes
    assert event["mi_bits"] > average["mi_bits"] > event["shuffle_mi_bits"]
    assert event["n_samples"] == average["n_samples"] == 600  # same samples for both
    assert event["p_permutation"] == 1 / 1001 and event["n_permutations"] == 1000


def test_structureless_features_decode_at_chance():
    rng = np.random.default_rng(1)
    X = rng.poisson(2.0, size=(400, 8))
    y = rng.integers(0, 4, 400)
    out = decoding.decode(X, y, n_shuffle=2)
    assert out["accuracy_lo"] < 0.25 + 0.03 and out["accuracy_hi"] > 0.25 - 0.08
    assert out["p_permutation"] > 0.05  # the permutation test does not call chance a signal
    assert decoding.compare(out, {"correct": None})["difference"] is None


def test_permutation_p_value_keeps_its_level_on_structureless_data():
    rng = np.random.default_rng(5)
    ps = [decoding.decode(rng.poisson(2.0, size=(120, 6)), rng.integers(0, 4, 120), n_shuffle=0,
                          n_boot=10, n_permutations=200, seed=i)["p_permutation"]
          for i in range(40)]
    assert np.mean(np.array(ps) < 0.1) <= 0.2  # nominal 0.1; slightly conservative by design
    assert min(ps) >= 1 / 201


def test_heldout_split_is_per_class_halves_and_the_same_for_every_layer():
    from fcgraph.analysis.pair import heldout_split

    labels = np.repeat(np.arange(4), 7)  # 7 images per class
    fit, read = heldout_split(labels, seed=3)
    assert np.intersect1d(fit, read).size == 0
    assert np.array_equal(np.sort(np.concatenate([fit, read])), np.arange(labels.size))
    assert all((labels[fit] == c).sum() == 3 and (labels[read] == c).sum() == 4 for c in range(4))
    again = heldout_split(labels, seed=3)
    assert np.array_equal(again[0], fit) and np.array_equal(again[1], read)


def test_heldout_thresholds_equal_the_full_ones_when_the_halves_are_copies():
    """Events defined on one half and read on the other: with two identical halves, the held-out
    thresholds and features are those of the whole recording, restricted to the second half."""
    from fcgraph.analysis.events import matched_features, step_thresholds
    from fcgraph.analysis.image_subsets import image_bins as _image_bins
    from fcgraph.analysis.pair import heldout_split

    T, rng = 4, np.random.default_rng(0)
    labels = np.repeat(np.arange(2), 10)
    fit, read = heldout_split(labels, seed=1)
    k = np.zeros(labels.size * T, dtype=np.int64)
    y = np.zeros(labels.size * T, dtype=bool)
    k_half = rng.integers(0, 6, fit.size * T)
    y_half = rng.random(fit.size * T) < 0.4
    k[_image_bins(fit, T)], k[_image_bins(read, T)] = k_half, k_half
    y[_image_bins(fit, T)], y[_image_bins(read, T)] = y_half, y_half
    held = step_thresholds(k[_image_bins(fit, T)], T)
    assert np.array_equal(held, step_thresholds(k, T))
    got = matched_features(k[_image_bins(read, T)], y[_image_bins(read, T)], T, held,
                           np.random.default_rng(5))
    full = matched_features(k, y, T, step_thresholds(k, T), np.random.default_rng(5))
    assert np.array_equal(got["event"], full["event"][read])
    assert np.array_equal(got["average"], full["average"][read])
