"""Recordings with planted ensembles (known sizes, thresholds, gains, class-specific events),
written per the recording and edge contracts, for tests, the demo and benchmarks.

:func:`planted_spikes` draws two dense layers ``pre`` (n_pre,) and ``post`` (n_post,). Post
neuron j owns a disjoint block of ``sizes[j]`` pre neurons (its planted ensemble); the rest of
the pre layer is background. Ensemble j prefers class j mod n_classes (default: one class per
ensemble): in an image of that class each bin is an event with probability ``p_event``, otherwise
with ``p_event_other``; in an event bin members fire with a probability drawn from
U(0.2, ``p_member_event``) (so k spans its range), otherwise with ``p_member``. The post neuron fires with
probability clip(b_m + gains[j] * h(k(t)), 0, 1), with h(k) = max(0, k - thetas[j]) (or, with
``response``, a line or a saturating sigmoid: :func:`_response`), where b_m is a per-image
baseline drawn from U(0, 2 ``baseline``), independent of the class, so average activity carries
class information only through the events. With ``structure=False`` every neuron fires
independently with the layer's mean rate (no ensembles, no class signal).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fcgraph.contract import (
    NEURON_SCHEMA,
    LayerInfo,
    RunManifest,
    parse_condition,
    write_manifest,
)
from fcgraph.io import sha256_file
from fcgraph.run_folder import RunFolder, layer_pairs
from fcgraph.spikes import pack


def planted_spikes(*, n_images: int = 400, T: int = 8, n_classes: int | None = None,
                   sizes: Sequence[int] = (4, 6, 8, 10, 12, 14), gains: Sequence[float] | None = None,
                   thetas: Sequence[float] | None = None, n_background: int = 20,
                   baseline: float = 0.05, p_event: float = 0.3, p_event_other: float = 0.01,
                   p_member_event: float = 0.8, p_member: float = 0.05, structure: bool = True,
                   response: str = "threshold-linear", seed: int = 0) -> dict[str, Any]:
    """Planted spikes: ``pre`` bool (n_pre, L), ``post`` bool (n_post, L), ``labels`` int64
    (n_images,), ``members`` (list of pre index arrays), ``gains``, ``thetas``, ``sizes``.

    ``response``: the planted curve h(k) of :data:`RESPONSES` (threshold-linear by default).
    """
    if response not in RESPONSES:
        raise ValueError(f"response must be one of {RESPONSES}, got {response!r}")
    rng = np.random.default_rng(seed)
    sizes = np.asarray(sizes, dtype=np.int64)
    gains = np.asarray(gains if gains is not None else 0.02 + 0.001 * sizes, dtype=float)
    thetas = np.asarray(thetas if thetas is not None else 0.3 * sizes, dtype=float)
    n_classes = n_classes or sizes.size
    L = n_images * T
    labels = np.arange(n_images) % n_classes
    rng.shuffle(labels)
    n_pre = int(sizes.sum()) + n_background
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    members = [np.arange(offsets[j], offsets[j + 1]) for j in range(sizes.size)]
    pre = rng.random((n_pre, L)) < p_member
    post = np.zeros((sizes.size, L), dtype=bool)
    base = np.repeat(rng.uniform(0, 2 * baseline, n_images), T)
    for j, mem in enumerate(members):
        preferred = np.repeat(labels == j % n_classes, T)
        event = rng.random(L) < np.where(preferred, p_event, p_event_other)
        drive = np.where(event, rng.uniform(0.2, p_member_event, L), p_member)
        pre[mem] = rng.random((mem.size, L)) < drive
        k = pre[mem].sum(0)
        prob = np.clip(base + gains[j] * _response(response, k, thetas[j], sizes[j]), 0, 1)
        post[j] = rng.random(L) < prob
    if not structure:
        pre = rng.random(pre.shape) < pre.mean()
        post = rng.random(post.shape) < post.mean()
    return {"pre": pre, "post": post, "labels": labels.astype(np.int64), "members": members,
            "gains": gains, "thetas": thetas, "sizes": sizes, "T": T}


#: the planted input-output curves h(k) (post fires with b_m + gain * h(k)), by name
RESPONSES = ("threshold-linear", "linear", "sigmoid")


def _response(name: str, k: np.ndarray, theta: float, size: int) -> np.ndarray:
    """h(k) of the planted curve ``name`` (``k`` members, float array): max(0, k - theta); k (a
    line, no threshold); or a saturating sigmoid of height 0.3 x size, half-way at theta + 0.1 x
    size, width 0.04 x size (flat from about theta + 0.2 x size)."""
    k = np.asarray(k, dtype=float)
    if name == "linear":
        return k
    if name == "sigmoid":
        return 0.3 * size / (1 + np.exp(-(k - theta - 0.1 * size) / (0.04 * size)))
    return np.maximum(0.0, k - theta)


def write_recording(root: Path, run_id: str, layers: Sequence[tuple[str, tuple[int, ...]]], T: int,
                    labels: np.ndarray, spikes: dict[str, dict[str, np.ndarray]],
                    accuracy: dict[str, float] | None = None) -> RunManifest:
    """Write a recording folder (manifest with a ``recording`` section, labels, ``.bits``
    files) from boolean spikes ``spikes[condition][layer]`` (n_neurons, T x n_images)."""
    from fcgraph.record.layout import RECORDING_FORMAT

    run = RunFolder(root)
    root = run.root
    root.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels, dtype=np.int64)
    np.save(run.labels, labels)
    infos = [LayerInfo(name, i, tuple(shape), (layers[i - 1][0],) if i else ())
             for i, (name, shape) in enumerate(layers)]

    def entry(path: Path) -> dict[str, Any]:
        return {"path": str(path.relative_to(root)), "sha256": sha256_file(path),
                "bytes": path.stat().st_size}

    conds: dict[str, Any] = {}
    for condition, by_layer in spikes.items():
        folder = run.spikes(condition)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(run.predictions(condition), labels)
        layer_entries = {}
        for info in infos:
            arr = np.asarray(by_layer[info.name], dtype=bool)
            path = run.bits(condition, info.name)
            path.write_bytes(pack(arr).tobytes())
            layer_entries[info.name] = {**entry(path), "spike_count": int(arr.sum()),
                                        "firing_rate": float(arr.mean())}
        conds[condition] = {"accuracy": (accuracy or {}).get(condition, 1.0), "details": {},
                            "predictions": entry(run.predictions(condition)),
                            "layers": layer_entries}
    recording = {"format": RECORDING_FORMAT, "format_version": 1,
                 "labels": entry(run.labels), "conditions": conds}
    manifest = RunManifest(run_id=run_id, layers=infos,
                           conditions=[parse_condition(c) for c in spikes], T=T,
                           n_images=int(labels.size), provenance={"synthetic": True},
                           extra={"recording": recording})
    write_manifest(root, manifest)
    return manifest


def write_edges(root: Path, *, z: float = 3.0, min_spikes: int = 10) -> RunManifest:
    """Compute every condition's edges between consecutive layers of the recording at ``root``
    with :func:`fcgraph.fc.significant_edges` (exact whole-image null) and write them, the
    neuron table and the manifest's ``fc`` section per the contract."""
    import pandas as pd

    from fcgraph.fc import edges_to_arrow, significant_edges
    from fcgraph.record import open_recording

    rec = open_recording(root, verify=False)
    manifest = rec.manifest
    run = RunFolder(root)
    run.fc_edges.mkdir(parents=True, exist_ok=True)
    rels, pairs_info, neuron_rows = {}, {}, []
    for condition in rec.conditions:
        frames, infos = [], []
        for a, b in layer_pairs(rec.layers):
            edges, report = significant_edges(rec.spikes(condition, a), rec.spikes(condition, b),
                                              T=rec.T, null="exact", z=z, min_spikes=min_spikes,
                                              pre_layer=a, post_layer=b, run_id=rec.run_id,
                                              condition=condition)
            frames.append(edges)
            infos.append({"pre_layer": a, "post_layer": b,
                          **{k: int(report[k]) for k in ("pairs", "tested", "edges")}})
        rel = run.relative(run.edges(condition))
        pq.write_table(edges_to_arrow(pd.concat(frames, ignore_index=True)), run.edges(condition))
        rels[condition], pairs_info[condition] = rel, infos
        for la in rec.layers:
            counts = rec.packed(condition, la.name).spike_counts()
            idx = np.arange(la.n_neurons)
            ch, y, x = la.position(idx)
            neuron_rows.append(pa.table({
                "layer": [la.name] * la.n_neurons, "idx": idx, "channel": ch, "y": y, "x": x,
                "spike_count": counts, "rate": counts / rec.L,
                "condition": [condition] * la.n_neurons},
                schema=NEURON_SCHEMA.append(pa.field("condition", pa.string()))))
    pq.write_table(pa.concat_tables(neuron_rows), run.fc_neurons)
    manifest.fc = {"parameters": {"measure": "sttc", "null": "exact", "z": z,
                                  "min_spikes": min_spikes},
                   "neurons": run.relative(run.fc_neurons), "edges": rels, "layer_pairs": pairs_info}
    write_manifest(Path(root), manifest)
    return manifest


def _jitter(x: np.ndarray, drop: float, rng: np.random.Generator) -> np.ndarray:
    """Spikes ``x`` (bool (n, L)) re-measured with noise: each dropped with probability
    ``drop``, and as many added at random (each bin with probability ``drop`` x the mean rate)."""
    return (x & (rng.random(x.shape) >= drop)) | (rng.random(x.shape) < drop * x.mean())


#: what the ``permute:layer`` network of :func:`make_planted_run` is (``control=``)
CONTROLS = ("shuffled", "planted")


def make_planted_run(root: Path, *, run_id: str = "planted", structure: bool = True,
                     perturbations: bool = True, floor: bool = False, control: str = "shuffled",
                     checkpoints: dict[int, str] | None = None, seed: int = 0,
                     **kwargs: Any) -> dict[str, Any]:
    """A recording (layers ``pre`` -> ``post``) with its edges: ``clean`` from
    :func:`planted_spikes`, and with ``perturbations`` also ``uniform:0.1`` (each spike kept with
    probability 0.5, plus as many spikes added at random) and ``permute:layer``, a control
    network: with ``control="shuffled"`` every neuron fires independently at its clean rate (no
    structure); with ``control="planted"`` it is another draw of the same planted process (seed
    + 1000): ensembles driven by the stimulus exactly as in the "trained" one, the realistic way
    for a finding to hold in a random network too. With ``floor`` also ``uniform:0.001``, a
    re-measurement with negligible noise (each spike dropped with probability 0.01 and as many
    added at random). ``checkpoints``: epoch E -> what ``epoch:E``, a training checkpoint, is:
    "trained" (the clean network re-measured, each spike dropped with probability 0.01 and as
    many added at random: a checkpoint as good as the final network) or "shuffled" (every neuron
    independent at its clean rate: a checkpoint that has learnt nothing); drawn from a generator
    of their own, so the other conditions are those of a run without them. Returns the planted
    truth (as :func:`planted_spikes`)."""
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {CONTROLS}, got {control!r}")
    truth = planted_spikes(structure=structure, seed=seed, **kwargs)
    pre, post = truth["pre"], truth["post"]
    rng = np.random.default_rng([seed, 1])
    spikes = {"clean": {"pre": pre, "post": post}}

    if floor:
        spikes["uniform:0.001"] = {"pre": _jitter(pre, 0.01, rng), "post": _jitter(post, 0.01, rng)}
    if perturbations:
        spikes["uniform:0.1"] = {"pre": _jitter(pre, 0.5, rng), "post": _jitter(post, 0.5, rng)}
        if control == "planted":
            other = planted_spikes(structure=structure, seed=seed + 1000, **kwargs)
            other_pre, other_post = other["pre"], other["post"]
            # the same images: the other network's responses are reordered to these labels
            order = _match_labels(other["labels"], truth["labels"], truth["T"])
            spikes["permute:layer"] = {"pre": other_pre[:, order], "post": other_post[:, order]}
        else:
            spikes["permute:layer"] = {
                "pre": rng.random(pre.shape) < pre.mean(axis=1, keepdims=True),
                "post": rng.random(post.shape) < post.mean(axis=1, keepdims=True)}
    spikes.update(_checkpoint_spikes(pre, post, checkpoints or {}, np.random.default_rng([seed, 2])))
    write_recording(root, run_id, [("pre", (pre.shape[0],)), ("post", (post.shape[0],))],
                    truth["T"], truth["labels"], spikes)
    write_edges(root)
    return truth


#: what a training checkpoint of :func:`make_planted_run` is (``checkpoints=``)
CHECKPOINTS = ("trained", "shuffled")


def _checkpoint_spikes(pre: np.ndarray, post: np.ndarray, checkpoints: dict[int, str],
                       rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    """``epoch:E`` -> layer -> spikes (bool (n, L)) of each checkpoint (:func:`make_planted_run`)."""
    out = {}
    for epoch, kind in sorted(checkpoints.items()):
        if kind not in CHECKPOINTS:
            raise ValueError(f"a checkpoint must be one of {CHECKPOINTS}, got {kind!r}")
        out[f"epoch:{epoch}"] = (
            {"pre": _jitter(pre, 0.01, rng), "post": _jitter(post, 0.01, rng)} if kind == "trained"
            else {"pre": rng.random(pre.shape) < pre.mean(axis=1, keepdims=True),
                  "post": rng.random(post.shape) < post.mean(axis=1, keepdims=True)})
    return out


def make_replicate_run(root: Path, labels: np.ndarray, *, run_id: str = "replicate",
                       structure: bool = True, seed: int = 1, **kwargs: Any) -> dict[str, Any]:
    """A second "trained network" on the same images: a recording (``clean`` only, layers
    ``pre`` -> ``post``) of another draw of :func:`planted_spikes` (``seed``, ``structure``),
    its images put in the order of ``labels`` (int64 (n_images,), e.g. the first run's), with its
    edges. ``kwargs`` must give the first run's n_images / sizes so the layers match."""
    truth = planted_spikes(structure=structure, seed=seed, **kwargs)
    order = _match_labels(truth["labels"], np.asarray(labels), truth["T"])
    pre, post = truth["pre"][:, order], truth["post"][:, order]
    write_recording(root, run_id, [("pre", (pre.shape[0],)), ("post", (post.shape[0],))],
                    truth["T"], np.asarray(labels), {"clean": {"pre": pre, "post": post}})
    write_edges(root)
    return truth


def _match_labels(source: np.ndarray, target: np.ndarray, T: int) -> np.ndarray:
    """Bin order that puts ``source``'s images in an order whose labels equal ``target``'s
    (both hold every class equally often): int64 (n_images * T,)."""
    images = np.empty(target.size, dtype=np.int64)
    for c in np.unique(target):
        images[target == c] = np.flatnonzero(source == c)
    return (images[:, None] * T + np.arange(T)).ravel()


#: the layers of :func:`make_planted_deep_run`, input first
DEEP_LAYERS = ("l0", "l1", "l2")


def make_planted_deep_run(root: Path, perturbations: dict[str, tuple[float, float]], *,
                          run_id: str = "planted-deep", floor: bool = True, noise: float = 0.05,
                          accuracy: dict[str, float] | None = None, z: float = 5.0,
                          seed: int = 0, **kwargs: Any) -> dict[str, Any]:
    """A recording of three layers ``l0 -> l1 -> l2`` (two layer pairs, each with planted
    ensembles) with its edges, and perturbations whose damage to each pair's groups is planted.

    The early pair is a draw of :func:`planted_spikes` (``seed``): ``l0`` its pre layer, the
    first ``len(sizes)`` neurons of ``l1`` its post neurons. The late pair is another draw (seed
    + 1) put in the same image order: the rest of ``l1`` its pre layer, ``l2`` its post neurons.
    Unless ``p_event_other`` is given, events come at the same rate in every image
    (``p_event_other = p_event``): the late pair's members in ``l1`` then share no class tuning
    with ``l0``, so their only in-edges from ``l0`` are chance edges.

    Parameters
    ----------
    root : Path
        The recording folder to write.
    perturbations : dict of str to (float, float)
        Condition name (e.g. ``"uniform:0.1"``) -> (early, late): the fraction of the early
        pair's post neurons (in ``l1``) and of the late pair's (``l2``) whose spikes are redrawn
        independently at their clean rate (their planted group destroyed). The neurons are the
        first of a seeded order of each layer, so a larger fraction destroys a superset. Every
        spike of the condition is also jittered: dropped with probability ``noise`` and as many
        added at random.
    floor : bool
        Also record ``uniform:0.001``, a re-measurement with negligible noise (each spike dropped
        with probability 0.01 and as many added at random).
    accuracy : dict of str to float, optional
        The classifier accuracy (0 .. 1) to record per condition (default 1.0).
    z : float
        fc's edge threshold (:func:`write_edges`). Above fc's default 3 so that ``l1``'s 200-odd
        group-less neurons get (almost) no chance edge from ``l0``: each such neuron would count
        in the neuron Jaccard as much as a planted group.
    seed : int
        Seed of the planted draws and the perturbations.
    **kwargs
        Passed to both draws of :func:`planted_spikes` (``n_images``, ``sizes``, ...).

    Returns
    -------
    dict
        ``early`` and ``late``: the planted truth of each pair (as :func:`planted_spikes`);
        ``destroyed``: condition -> {post layer: int64 indices of its post neurons destroyed}.
    """
    kwargs.setdefault("p_event_other", kwargs.get("p_event", 0.3))
    early = planted_spikes(seed=seed, **kwargs)
    late = planted_spikes(seed=seed + 1, **kwargs)
    order = _match_labels(late["labels"], early["labels"], early["T"])
    clean = dict(zip(DEEP_LAYERS, (early["pre"],
                                   np.concatenate([early["post"], late["pre"][:, order]]),
                                   late["post"][:, order]), strict=True))
    rng = np.random.default_rng([seed, 2])
    posts = dict(zip(DEEP_LAYERS[1:], (early["post"].shape[0], late["post"].shape[0]),
                     strict=True))
    ranks = {layer: rng.permutation(n) for layer, n in posts.items()}

    spikes = {"clean": clean}
    if floor:
        spikes["uniform:0.001"] = {layer: _jitter(x, 0.01, rng) for layer, x in clean.items()}
    destroyed: dict[str, dict[str, np.ndarray]] = {}
    for name, fractions in perturbations.items():
        cond = {layer: _jitter(x, noise, rng) for layer, x in clean.items()}
        destroyed[name] = {}
        for (layer, n), fraction in zip(posts.items(), fractions, strict=True):
            idx = np.sort(ranks[layer][:int(round(fraction * n))])
            rates = clean[layer][idx].mean(axis=1, keepdims=True)
            cond[layer][idx] = rng.random((idx.size, clean[layer].shape[1])) < rates
            destroyed[name][layer] = idx
        spikes[name] = cond
    write_recording(root, run_id, [(layer, (x.shape[0],)) for layer, x in clean.items()],
                    early["T"], early["labels"], spikes, accuracy)
    write_edges(root, z=z)
    return {"early": early, "late": late, "destroyed": destroyed}
