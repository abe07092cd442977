"""The built-in negative control: the post layer's images put in a random order.

Reordering whole T-bin image blocks of the post layer keeps every post train's within-image
structure and spike count, but makes pre and post independent by construction (each pre image
now faces another image's post response). Any edge found there is a false edge, so the edge
rate of a rule on this control is its false-edge rate, to compare with the nominal one-sided
normal tail of the threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fcgraph.errors import FcgraphError
from fcgraph.fc.edges import significant_edges
from fcgraph.fc.spikes import Spikes, as_source, permute_images


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random permutation of range(n) with no fixed point (n >= 2), by rejection."""
    if n < 2:
        raise FcgraphError(f"reordering images needs at least 2 images, got {n}")
    while True:
        order = rng.permutation(n)
        if not (order == np.arange(n)).any():
            return order


def calibrate(pre: Spikes, post: Spikes, *, T: int, seed: int = 0, **rule: Any) -> dict[str, Any]:
    """The false-edge rate of an edge rule on the image-reordered negative control.

    ``pre`` (n_pre, L), ``post`` (n_post, L): boolean trains or :class:`SpikeMatrix`; ``rule``:
    any keyword of :func:`~fcgraph.fc.edges.significant_edges` (z, null, min_spikes, fdr, ...).
    The post images are reordered by a random derangement drawn from ``seed``.

    Returns a dict: ``false_edges`` (significant pairs, before any top_k cut), ``tested``,
    ``false_edge_rate`` (false_edges / tested), ``nominal_rate`` (one-sided normal tail of
    the z threshold, e.g. 0.00135 at z = 3; None with fdr, which bounds the chance of any false
    edge instead), ``ratio`` (false / nominal), ``image_order`` and the control's ``report``.
    """
    src_b = as_source(post, "post")
    if src_b.L % T:
        raise FcgraphError(f"L = {src_b.L} bins is not a whole number of images of T = {T}")
    order = derangement(src_b.L // T, np.random.default_rng([seed, 0x6E6567]))
    control = permute_images(src_b, order, T)
    _, report = significant_edges(pre, control, T=T, seed=seed, **rule)
    tested = report["tested"]
    false_edges = report["significant"]
    rate = false_edges / tested if tested else float("nan")
    nominal = None if rule.get("fdr") is not None else report["nominal_rate"]
    return {
        "false_edges": false_edges,
        "tested": tested,
        "false_edge_rate": rate,
        "nominal_rate": nominal,
        "ratio": rate / nominal if nominal else None,
        "image_order": order,
        "report": report,
    }
