"""fc's rule rerun on image subsets (fcgraph.analysis.image_subsets): on every image it gives
fc's own edges; on a subset it equals the engine run on the subset's bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcgraph.analysis.image_subsets import edges_on_images, fc_rule, trains_on_images
from fcgraph.analysis.synthetic import make_planted_run
from fcgraph.fc.edges import significant_edges
from fcgraph.record import open_recording


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    root = tmp_path_factory.mktemp("subsets") / "planted"
    make_planted_run(root, n_images=200, sizes=(8, 12, 16, 20), seed=3)
    return open_recording(root, verify=False)


def _pairs(edges: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(edges["pre_idx"].tolist(), edges["post_idx"].tolist(), strict=True))


def test_every_image_gives_fcs_own_edges(rec):
    fc_edges = pd.read_parquet(rec.manifest.edge_files(rec.path)["clean"])
    edges, report = edges_on_images(rec, "clean", "pre", "post", np.arange(rec.n_images))
    assert len(edges) > 0 and _pairs(edges) == _pairs(fc_edges)
    assert report["edges"] == len(fc_edges)
    some = np.array([1, 3])
    sub, _ = edges_on_images(rec, "clean", "pre", "post", np.arange(rec.n_images), some)
    assert _pairs(sub) == {p for p in _pairs(fc_edges) if p[1] in set(some.tolist())}


def test_a_subset_is_the_engine_on_its_bins(rec):
    images = np.flatnonzero(np.arange(rec.n_images) % 2 == 0)
    rule = fc_rule(rec, "clean", "pre", "post")
    T = rule.pop("T")
    a = rec.spikes("clean", "pre")[:, (images[:, None] * T + np.arange(T)).ravel()]
    b = rec.spikes("clean", "post")[:, (images[:, None] * T + np.arange(T)).ravel()]
    want, _ = significant_edges(a, b, T=T, **rule)
    got, _ = edges_on_images(rec, "clean", "pre", "post", images)
    assert _pairs(got) == _pairs(want)
    np.testing.assert_array_equal(got["z"].to_numpy(), want["z"].to_numpy())
    assert trains_on_images(rec.packed("clean", "pre"), images, T).shape == a.shape
