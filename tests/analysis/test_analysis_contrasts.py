"""The findings' shared statistics on known answers: Holm's correction, per-image means whose CI
does not grow with copies of the same layer, and trained-vs-control contrasts against a plain
computation."""

from __future__ import annotations

import numpy as np

from fcgraph.analysis import contrasts, findings


def test_holm_known_answer():
    assert contrasts.holm([0.01, 0.04, 0.03, None]) == [0.03, 0.06, 0.06, None]
    assert contrasts.holm([0.5, 0.6]) == [1.0, 1.0]
    assert contrasts.holm([]) == []


def test_image_mean_treats_layers_of_an_image_as_one_unit():
    rng = np.random.default_rng(0)
    layer = rng.integers(0, 2, 200).astype(float)
    once = contrasts.image_mean([layer])
    copied = contrasts.image_mean([layer] * 8)  # eight copies carry no more evidence
    assert once == {**copied, "n_layers": 1}
    two = contrasts.image_mean([[1, 0, 1, 0], [1, 1, 1, 1]])
    assert two["value"] == 0.75 and two["n_images"] == 4 and two["n_layers"] == 2
    assert contrasts.image_mean([])["value"] is None


def _decoding_layer(post: str, event: list[int], average: list[int]) -> dict:
    return {"post_layer": post, "decoding": {"event": {"correct": event},
                                             "average": {"correct": average}}}


def test_decoding_contrast_pairs_images_and_layers():
    rng = np.random.default_rng(1)
    t = [(rng.random(120) < 0.8).astype(int), (rng.random(120) < 0.6).astype(int)]
    c = [(rng.random(120) < 0.5).astype(int), (rng.random(120) < 0.5).astype(int)]
    trained = [_decoding_layer("x", t[0].tolist(), t[1].tolist()),
               _decoding_layer("y", t[1].tolist(), t[0].tolist())]
    control = [_decoding_layer("x", c[0].tolist(), c[1].tolist()),
               _decoding_layer("z", c[1].tolist(), c[0].tolist())]  # no layer y
    out = findings.decoding_contrast(trained, control, findings.event_minus_average)
    plain = ((t[0] - t[1]) - (c[0] - c[1])).mean()  # layer x only: y has no control
    assert out["layers"] == ["x"] and np.isclose(out["value"], plain)
    assert out["lo"] <= out["value"] <= out["hi"]
    # a control layer without groups counts as 0 only when asked
    control[1]["post_layer"] = "y"
    control[1]["decoding"]["event"]["correct"] = None
    zero = findings.decoding_contrast(trained, control, findings.event_minus_average,
                                      absent_is_zero=True)
    assert zero["control_without_groups"] == ["y"] and zero["layers"] == ["x", "y"]
    per_image = ((t[0] - t[1]) - (c[0] - c[1]) + (t[1] - t[0])) / 2
    assert np.isclose(zero["value"], per_image.mean())


def test_edge_rate_contrast_is_the_mean_log_ratio():
    def layer(post, edges, tested):
        return {"post_layer": post, "pre_layer": "p", "n_neurons": 1, "clean_edges": edges,
                "tested_pairs": tested}
    trained = [layer(p, 4000, 100_000) for p in "abc"]
    control = [layer("a", 1000, 100_000), layer("b", 800, 100_000), layer("c", 1200, 100_000)]
    out = findings.edge_rate_contrast({}, trained, control)
    ratios = np.log2([(4000.5 / 100_001) / ((e + 0.5) / 100_001) for e in (1000, 800, 1200)])
    assert np.isclose(out["value"], ratios.mean()) and out["layer_pairs"] == 3
    assert out["ci_method"].startswith("t over layer pairs") and out["exceeds"]
    same = findings.edge_rate_contrast({}, trained, trained)
    assert same["value"] == 0 and not same["exceeds"]
