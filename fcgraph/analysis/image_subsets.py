"""fc's edge rule, as the run applied it, rerun on a subset of the images.

The analysis reruns the rule to select 1FC groups on some images and measure on others (so a
group is never fitted on the bins that chose it), and to resample images in blocks. Both need
the rule exactly as fc applied it to the layer pair: its null, its threshold (the z fc used,
set from a control when fc calibrated one), ``min_spikes``, ``fdr``, ``top_k`` and the
receptive-field candidates. One home for that rule: :func:`fc_rule`.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd

from fcgraph.errors import FcgraphError
from fcgraph.fc.edges import significant_edges
from fcgraph.fc.pair import kernel_footprint
from fcgraph.fc.settings import FcParams


def fc_params(rec: Any) -> FcParams:
    """The fc settings stored in an open recording's manifest (defaults where absent)."""
    stored = rec.manifest.fc.get("parameters", {})
    names = {f.name for f in fields(FcParams)}
    return FcParams.create(**{k: v for k, v in stored.items() if k in names})


def fc_rule(rec: Any, condition: str, pre: str, post: str) -> dict[str, Any]:
    """Keyword arguments of :func:`~fcgraph.fc.edges.significant_edges` that reproduce fc's
    rule on this layer pair of this condition (``T`` and ``trials`` included; the z is the
    threshold fc applied, from the pair's row in the manifest)."""
    params = fc_params(rec)
    rule = params.rule(rec.T, rec.trials)
    row = rec.manifest.fc_pair(condition, pre, post)
    rule["z"] = float((row.get("threshold") or {}).get("z", params.z))
    if params.top_k is not None:
        rule["top_k"] = int(params.top_k)
    return rule


def stratified_groups(labels: np.ndarray, n_groups: int, stream: list[int]) -> np.ndarray:
    """The group (0 .. n_groups - 1) of every image: int64 (n_images,). Each class's images are
    shuffled (random stream ``stream``, e.g. [seed, purpose]) and dealt round-robin, the deal
    continuing from class to class, so every group holds each class about equally and the
    group sizes differ by at most one."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(stream)
    out = np.empty(labels.size, dtype=np.int64)
    start = 0
    for c in np.unique(labels):
        images = rng.permutation(np.flatnonzero(labels == c))
        out[images] = (start + np.arange(images.size)) % n_groups
        start += images.size
    return out


def image_bins(images: np.ndarray, T: int) -> np.ndarray:
    """The bins of ``images`` (int64 image indices) in image-major order: int64
    (len(images) x T,)."""
    images = np.asarray(images, dtype=np.int64)
    return (images[:, None] * T + np.arange(T)).ravel()


def trains_on_images(spikes: Any, images: np.ndarray, T: int,
                     rows: np.ndarray | None = None) -> np.ndarray:
    """Boolean trains (n_rows, len(images) x T) of ``images`` only, from a
    :class:`~fcgraph.spikes.SpikeMatrix` (or boolean (n, L) array) ``spikes``; ``rows``:
    the neurons kept (all by default)."""
    packed = getattr(spikes, "packed", None)
    if packed is not None:
        from fcgraph.spikes import unpack

        data = packed if rows is None else np.asarray(packed)[rows]
        full = unpack(np.asarray(data), spikes.L)
    else:
        full = np.asarray(spikes, dtype=bool)
        full = full if rows is None else full[rows]
    return full[:, image_bins(images, T)]


def edges_on_images(rec: Any, condition: str, pre: str, post: str, images: np.ndarray,
                    post_idx: np.ndarray | None = None, *,
                    rule: dict[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """fc's rule (:func:`fc_rule`, or ``rule``) on the bins of ``images`` only, for the post
    neurons ``post_idx`` (all by default).

    Parameters
    ----------
    rec : an open recording (:class:`~fcgraph.record.reader.Recording`).
    condition, pre, post : the condition and the layer pair.
    images : int64 image indices (any order; each image's T bins are kept together, so the
        image null shifts whole images of the subset).
    post_idx : int64 post neuron indices; the result's ``post_idx`` are these original
        indices, not positions.

    Returns
    -------
    (edges, report) as :func:`~fcgraph.fc.edges.significant_edges` gives them, with
    ``post_idx`` mapped back to the layer's indices. Neurons are tested (``min_spikes``) on the
    subset's spikes, so a subset tests fewer neurons than the whole recording.
    """
    if rec.trials > 1:
        raise FcgraphError("image subsets of a recording of repeated trials are not supported")
    rule = dict(fc_rule(rec, condition, pre, post) if rule is None else rule)
    post_idx = (np.arange(rec.layer(post).n_neurons) if post_idx is None
                else np.asarray(post_idx, dtype=np.int64))
    params = fc_params(rec)
    if params.candidates == "receptive-field":
        spatial = kernel_footprint(rec.layer(pre), rec.layer(post))
        if spatial is not None:
            pre_pos = np.arange(rec.layer(pre).n_neurons) % spatial.shape[0]
            post_pos = post_idx % spatial.shape[1]
            rule["candidates"] = spatial[pre_pos[:, None], post_pos[None, :]]
    T = rule.pop("T")
    a = trains_on_images(rec.packed(condition, pre), images, T)
    b = trains_on_images(rec.packed(condition, post), images, T, rows=post_idx)
    edges, report = significant_edges(a, b, T=T, condition=condition, pre_layer=pre,
                                      post_layer=post, **rule)
    edges["post_idx"] = post_idx[edges["post_idx"].to_numpy()]
    return edges, report
