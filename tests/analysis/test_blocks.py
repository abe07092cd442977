"""The image-block jackknife of the edges (fcgraph.analysis.blocks): its replicates are fc's rule
on the kept images, its formula the textbook one, its groups stratified; and on a planted
process drawn many times its interval has the spread of the edge rate between draws, where the
Wilson interval over pairs (pairs as independent) is about half as wide and undercovers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fcgraph.analysis.blocks import (
    block_sample,
    condition_summary,
    edge_jaccard,
    edge_replicates,
    half_keys,
    image_groups,
    image_halves,
    jackknife,
    network_summary,
    neuron_jaccard,
    replicate_keys,
)
from fcgraph.analysis.contrasts import wilson
from fcgraph.analysis.image_subsets import fc_rule, image_bins
from fcgraph.analysis.perturbations import compare_edges
from fcgraph.analysis.synthetic import make_planted_run, planted_spikes, write_edges, write_recording
from fcgraph.fc.edges import significant_edges
from fcgraph.record import open_recording


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    root = tmp_path_factory.mktemp("blocks") / "planted"
    make_planted_run(root, n_images=200, sizes=(8, 12, 16, 20), floor=True, seed=3)
    return open_recording(root, verify=False)


def test_image_groups_are_class_stratified_and_balanced():
    labels = np.repeat(np.arange(7), 31)
    np.random.default_rng(0).shuffle(labels)
    groups = image_groups(labels, 10, seed=4)
    assert groups.shape == labels.shape and set(groups.tolist()) == set(range(10))
    sizes = np.bincount(groups)
    assert sizes.max() - sizes.min() <= 1
    for c in range(7):  # each class spread over the groups as evenly as it can be
        per = np.bincount(groups[labels == c], minlength=10)
        assert per.max() - per.min() <= 1
    np.testing.assert_array_equal(groups, image_groups(labels, 10, seed=4))
    assert not np.array_equal(groups, image_groups(labels, 10, seed=5))


def test_block_sample_is_every_neuron_or_a_uniform_sample():
    np.testing.assert_array_equal(block_sample(50, 128, 0, 1), np.arange(50))
    np.testing.assert_array_equal(block_sample(50, None, 0, 1), np.arange(50))
    s = block_sample(1000, 128, 0, 1)
    assert s.size == 128 and np.all(np.diff(s) > 0) and s.max() < 1000
    np.testing.assert_array_equal(s, block_sample(1000, 128, 0, 1))
    assert not np.array_equal(s, block_sample(1000, 128, 0, 2))  # another layer, another draw


def test_jackknife_of_a_mean_is_the_spread_of_the_group_means():
    """For a mean over equal groups, the delete-a-group jackknife variance is the textbook
    sum_g (group mean - mean)^2 / (G (G - 1))."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    groups = np.arange(200) % 10
    reps = [x[groups != g].mean() for g in range(10)]
    jk = jackknife([x.mean(), *reps])
    group_means = np.array([x[groups == g].mean() for g in range(10)])
    se = np.sqrt(np.sum((group_means - x.mean()) ** 2) / (10 * 9))
    assert np.isclose(jk["se"], se) and np.isclose(jk["value"], x.mean())
    assert np.isclose(jk["hi"] - jk["value"], stats.t.ppf(0.975, 9) * se)
    assert jackknife([1.0, 1.0, None, 1.0])["lo"] is None
    assert jackknife([None, 1.0, 1.0])["value"] is None


def test_replicates_are_fcs_rule_on_the_kept_images(rec):
    """Each replicate's edges and tested pairs equal the engine run directly on the bins of
    every image but that group; on all images they are fc's own edges of those neurons."""
    post_idx = np.array([0, 2, 3])
    groups = image_groups(rec.labels, 5, seed=0)
    part = edge_replicates(rec, "clean", "pre", "post", post_idx, groups)
    keys = replicate_keys(part)
    n_pre = rec.layer("pre").n_neurons
    assert len(keys) == 6 and part["n_groups"] == 5
    fc = rec.manifest.edge_files(rec.path)["clean"]
    fc_edges = pd.read_parquet(fc)
    fc_edges = fc_edges[fc_edges["post_idx"].isin(post_idx)]
    np.testing.assert_array_equal(keys[0], np.sort(fc_edges["post_idx"].to_numpy() * n_pre
                                                   + fc_edges["pre_idx"].to_numpy()))
    rule = fc_rule(rec, "clean", "pre", "post")
    T = rule.pop("T")
    pre, post = rec.spikes("clean", "pre"), rec.spikes("clean", "post")[post_idx]
    changed = 0
    for g in range(5):
        bins = image_bins(np.flatnonzero(groups != g), T)
        want, report = significant_edges(pre[:, bins], post[:, bins], T=T, **rule)
        want_keys = np.sort(post_idx[want["post_idx"].to_numpy()] * n_pre
                            + want["pre_idx"].to_numpy())
        np.testing.assert_array_equal(keys[g + 1], want_keys)
        assert part["replicates"][g]["tested"] == report["tested"]
        changed += not np.array_equal(keys[g + 1], keys[0])
    assert changed >= 1  # the replicates differ: there is something to resample
    summary = network_summary(part)
    assert summary["edges"] == [k.size for k in keys] and summary["n_sampled"] == 3


def test_condition_summary_compares_with_clean_on_the_same_images(rec):
    groups = image_groups(rec.labels, 4, seed=0)
    post_idx = np.arange(4)
    clean = edge_replicates(rec, "clean", "pre", "post", post_idx, groups)
    floor = edge_replicates(rec, "uniform:0.001", "pre", "post", post_idx, groups)
    same = condition_summary(clean, clean)
    assert same["neuron_jaccard"] == [1.0] * 5 and same["jaccard"] == [1.0] * 5
    out = condition_summary(floor, clean)
    n_pre = clean["n_pre"]
    for a, b, nj, j in zip(replicate_keys(clean), replicate_keys(floor), out["neuron_jaccard"],
                           out["jaccard"], strict=True):
        ref = compare_edges((a % n_pre, a // n_pre), (b % n_pre, b // n_pre), n_pre, 4, n_boot=10)
        assert np.isclose(nj, ref["neuron_jaccard"]) and np.isclose(j, ref["jaccard"])
    assert 0 < out["neuron_jaccard"][0] < 1
    with pytest.raises(ValueError, match="block sample"):
        condition_summary(edge_replicates(rec, "clean", "pre", "post", post_idx[:2], groups),
                          clean)


def test_halves_are_fcs_rule_on_the_even_and_the_odd_groups(rec):
    """The two halves split the images into disjoint, class-balanced sets (even groups, odd
    groups); each half's edges and tested pairs are the engine's on that half's bins; the
    split-half Jaccard is the neuron Jaccard of one half's in-edges with the other's, and a
    condition compared with itself has a Jaccard of 1 in each half."""
    groups = image_groups(rec.labels, 4, seed=0)
    halves = image_halves(groups)
    assert np.intersect1d(*halves).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate(halves)), np.arange(groups.size))
    np.testing.assert_array_equal(halves[0], np.flatnonzero(np.isin(groups, [0, 2])))
    for h in halves:  # each class about equally in each half
        counts = np.bincount(rec.labels[h], minlength=int(rec.labels.max()) + 1)
        assert counts.max() - counts.min() <= 2
    post_idx = np.arange(4)
    part = edge_replicates(rec, "clean", "pre", "post", post_idx, groups)
    rule = fc_rule(rec, "clean", "pre", "post")
    T = rule.pop("T")
    pre, post = rec.spikes("clean", "pre"), rec.spikes("clean", "post")[post_idx]
    n_pre = rec.layer("pre").n_neurons
    keys = half_keys(part)
    for h, images in enumerate(halves):
        want, report = significant_edges(pre[:, image_bins(images, T)],
                                         post[:, image_bins(images, T)], T=T, **rule)
        np.testing.assert_array_equal(keys[h], np.sort(post_idx[want["post_idx"].to_numpy()]
                                                       * n_pre + want["pre_idx"].to_numpy()))
        assert part["halves"][h]["tested"] == report["tested"]
    assert keys[0].size and keys[1].size and not np.array_equal(keys[0], keys[1])
    summary = network_summary(part, 4)
    assert summary["split_half_neuron_jaccard"] == neuron_jaccard(keys[0], keys[1], n_pre, 4)
    assert 0 < summary["split_half_neuron_jaccard"] < 1
    assert condition_summary(part, part, 4)["neuron_jaccard_halves"] == [1.0, 1.0]
    assert image_halves(np.zeros(5, np.int64))[0].size == 0
    # another network's part (finding 4 does not read it) goes without halves
    bare = edge_replicates(rec, "clean", "pre", "post", post_idx, groups, halves=False)
    assert "halves" not in bare and network_summary(bare)["split_half_neuron_jaccard"] is None


def test_jaccards_on_known_sets():
    # post 0: {0, 1} vs {0, 3} -> 1/3; post 1: {2, 3} vs {2} -> 1/2 (n_pre = 4)
    a = np.array([0, 1, 6, 7])
    b = np.array([0, 3, 6])
    assert np.isclose(neuron_jaccard(a, b, 4), (1 / 3 + 1 / 2) / 2)
    assert np.isclose(edge_jaccard(a, b), 2 / 5)
    empty = np.zeros(0, np.int64)
    assert neuron_jaccard(empty, empty, 4) is None and edge_jaccard(empty, empty) is None
    # only clean groups of >= 2 members: post 0 ({0, 1} vs {0, 3}); post 1 has one clean edge,
    # post 2 none (a group only under the condition)
    a, b = np.array([0, 1, 6]), np.array([0, 3, 7, 8, 9])
    assert np.isclose(neuron_jaccard(a, b, 4, min_group=2), 1 / 3)
    assert np.isclose(neuron_jaccard(a, b, 4), (1 / 3 + 0 + 0) / 3)
    assert neuron_jaccard(a, b, 4, min_group=3) is None
    # groups weighted by their clean size: post 0 {0, 1, 2} vs {0} (1/3, 3 members), post 1
    # {4, 5} vs {4, 5} (1, 2 members)
    a, b = np.array([0, 1, 2, 4, 5]), np.array([0, 4, 5])
    assert np.isclose(neuron_jaccard(a, b, 4, min_group=2), (3 * 1 / 3 + 2 * 1) / 5)


#: a planted process whose edges are partly detected (weak gains), so the edge rate varies
#: between draws; a post neuron's member edges share its spikes, so they vary together
PROCESS = {"n_images": 120, "sizes": (16,) * 6, "n_background": 20, "p_event": 0.3,
           "gains": (0.05,) * 6}


def test_the_interval_has_the_spread_of_the_rate_between_draws(tmp_path):
    """30 draws of the same planted process (new images, new spikes): the jackknife SE of the
    edge rate is the SD of the rate between draws, and its interval covers the expected rate
    (the mean of the other draws) at about the nominal 95 %; the Wilson interval over pairs is
    about half as wide and covers far less often."""
    rows = []
    for s in range(30):
        truth = planted_spikes(seed=100 + s, **PROCESS)
        root = tmp_path / f"r{s}"
        write_recording(root, f"r{s}", [("pre", (truth["pre"].shape[0],)), ("post", (6,))],
                        truth["T"], truth["labels"],
                        {"clean": {"pre": truth["pre"], "post": truth["post"]}})
        write_edges(root)
        rec = open_recording(root, verify=False)
        part = edge_replicates(rec, "clean", "pre", "post", np.arange(6),
                               image_groups(rec.labels, 10, seed=0))
        summary = network_summary(part)
        rate = np.asarray(summary["edges"], float) / np.asarray(summary["tested"], float)
        jk = jackknife(rate)
        rows.append((jk["value"], jk["se"], jk["lo"], jk["hi"],
                     *wilson(summary["edges"][0], summary["tested"][0])))
    value, se, lo, hi, w_lo, w_hi = np.array(rows).T
    expected = (value.sum() - value) / (value.size - 1)  # leave-one-out: not its own draw
    sd = value.std(ddof=1)
    assert 0.7 < se.mean() / sd < 1.5, (se.mean(), sd)
    assert (w_hi - w_lo).mean() / (2 * stats.norm.ppf(0.975)) < 0.7 * sd
    covered = np.mean((lo <= expected) & (expected <= hi))
    wilson_covered = np.mean((w_lo <= expected) & (expected <= w_hi))
    assert covered >= 0.85 and wilson_covered <= 0.75, (covered, wilson_covered)


def _layer(post: str, edges: list[int], tested: int = 1000) -> dict:
    return {"post_layer": post, "blocks": {"n_groups": len(edges) - 1, "n_sampled": 10,
                                           "edges": edges, "tested": [tested] * len(edges)}}


def test_layers_are_pooled_within_each_replicate():
    """Two layer pairs whose replicates move together (the same images drive both) pool to the
    interval of either; moving in opposite directions they cancel. Treating the layers as
    independent would give the same interval to both."""
    from fcgraph.analysis.findings.f1_groups import block_contrast, block_edge_rate

    up = [100, 90, 110, 95, 105, 100]
    down = [100, 110, 90, 105, 95, 100]
    together = block_edge_rate([_layer("a", up), _layer("b", up)])
    opposite = block_edge_rate([_layer("a", up), _layer("b", down)])
    alone = block_edge_rate([_layer("a", up)])
    assert together["value"] == opposite["value"] == alone["value"] == 0.1
    assert np.isclose(together["se"], alone["se"]) and opposite["se"] < 1e-12
    assert together["per_layer"]["b"]["se"] == alone["se"]
    # the contrast with a control is paired replicate by replicate: a control that moves with
    # the trained network on the same images leaves a narrower log ratio than one that moves
    # against it
    trained = [_layer("a", up), _layer("b", up)]
    with_it = block_contrast(trained, [_layer(p, [e // 4 for e in up]) for p in "ab"])
    against = block_contrast(trained, [_layer(p, [e // 4 for e in down]) for p in "ab"])
    assert np.isclose(with_it["value"], np.log2(100.5 / 25.5)) and with_it["exceeds"]
    assert with_it["value"] == against["value"] and with_it["layer_pairs"] == 2
    assert with_it["se"] < against["se"] / 5 and with_it["ci_method"].startswith("image-block")
    assert block_contrast([_layer("a", up)], [_layer("a", [0] * 6, tested=0)])["untested"] == ["a"]


def test_like_to_like_on_all_images_is_the_principle_of_the_whole_layer(rec):
    """With every post neuron sampled, the like-to-like on all images is the principle that
    fcgraph.analysis.principles measures from fc's edges; replicates measure it on their
    images, near it."""
    from fcgraph.analysis.principles import principles

    n_post = rec.layer("post").n_neurons
    part = edge_replicates(rec, "clean", "pre", "post", np.arange(n_post),
                           image_groups(rec.labels, 4, seed=0))
    want = principles(rec, "clean", "pre", "post", rec.manifest.edge_files(rec.path)["clean"],
                      min_spikes=10)["like_to_like"]
    assert want > 0.3 and np.isclose(part["like_to_like"][0], want)
    assert all(abs(v - want) < 0.2 for v in part["like_to_like"][1:])
    assert network_summary(part)["like_to_like"] == part["like_to_like"]


def test_sampled_layers_are_weighted_by_their_share_of_the_runs_tested_pairs():
    """A sample of the same number of post neurons per layer pair over-weights a small, dense
    layer pair; weighted by each pair's tested pairs over all its post neurons, the pooled rate
    is the run's own edges / tested pairs (here: layer a is 9x b's size, rates 0.1 and 0.5)."""
    from fcgraph.analysis.findings.f1_groups import block_edge_rate

    a, b = _layer("a", [100] * 6), _layer("b", [500] * 6)
    unweighted = block_edge_rate([a, b])
    run_rate = (0.1 * 9000 + 0.5 * 1000) / 10000  # every post neuron: 9,000 and 1,000 tested
    weighted = block_edge_rate([a, b], [9000, 1000])
    assert np.isclose(unweighted["value"], 0.3) and np.isclose(weighted["value"], run_rate)
    # with the whole layer sampled (weights = the sample's own tested pairs) nothing changes
    assert np.isclose(block_edge_rate([a, b], [1000, 1000])["value"], unweighted["value"])
