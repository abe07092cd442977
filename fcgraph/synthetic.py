"""Synthetic run folders with a known connectome: for the demo, tests and benchmarks.

Every post neuron of layer o+1 gets ``fan_in`` distinct pre neurons of layer o, drawn at random,
with z = 3 + Exp(2). Each perturbed condition keeps a fraction ``keep`` of the clean edges
(chosen at random) and adds as many new random edges as it lost times ``gain``. With
``silent`` > 0, that fraction of each layer's neurons falls silent under each perturbed condition
(spike count 0 against ``min_spikes`` = 1): their edges there are dropped, as fc would never
test them, and the neuron table gets one row per neuron and condition. Written per the
contract of :mod:`fcgraph.contract`, in row groups, so a run of tens of millions of edges is
produced in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fcgraph.contract import (
    EDGE_SCHEMA,
    NEURON_SCHEMA,
    LayerInfo,
    RunManifest,
    parse_condition,
    write_manifest,
)
from fcgraph.run_folder import RunFolder

DEFAULT_LAYERS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("sn1", (4, 8, 8)),
    ("stage1.sn", (8, 4, 4)),
    ("stage2.sn", (16, 2, 2)),
    ("fc1.sn", (64,)),
    ("fc2.sn", (32,)),
)


def _layer_edges(rng: np.random.Generator, n_pre: int, n_post: int,
                 fan_in: int) -> tuple[np.ndarray, np.ndarray]:
    """(pre_idx, post_idx) with ``min(fan_in, n_pre)`` distinct pre neurons per post neuron."""
    k = min(fan_in, n_pre)
    keys = rng.random((n_post, n_pre)) if n_pre <= 4096 else None
    if keys is not None:
        pre = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < n_pre else np.tile(
            np.arange(n_pre), (n_post, 1))
    else:  # large layers: sample with rejection of duplicates per row
        pre = np.empty((n_post, k), dtype=np.int64)
        for j in range(n_post):
            pre[j] = rng.choice(n_pre, size=k, replace=False)
    post = np.repeat(np.arange(n_post), k)
    return pre.reshape(-1).astype(np.int64), post.astype(np.int64)


def _silent(seed: int, condition: str, layer: int, n: int, fraction: float) -> np.ndarray:
    """bool (n,): the neurons of layer number ``layer`` silent under ``condition``."""
    if condition == "clean" or fraction <= 0:
        return np.zeros(n, dtype=bool)
    return np.random.default_rng([seed, 7, layer, sum(map(ord, condition))]).random(n) < fraction


def _edge_batches(run_id: str, condition: str, layers: Sequence[LayerInfo], fan_in: int,
                  seed: int, keep: float, gain: float, silent: float) -> Iterator[pa.RecordBatch]:
    for i, (a, b) in enumerate(zip(layers, layers[1:], strict=False)):
        rng = np.random.default_rng([seed, i])
        pre, post = _layer_edges(rng, a.n_neurons, b.n_neurons, fan_in)
        z = 3.0 + rng.exponential(2.0, size=pre.size)
        if condition != "clean":
            crng = np.random.default_rng([seed, i, sum(map(ord, condition))])
            silent_pre = _silent(seed, condition, i, a.n_neurons, silent)
            silent_post = _silent(seed, condition, i + 1, b.n_neurons, silent)
            kept = (crng.random(pre.size) < keep) & ~silent_pre[pre] & ~silent_post[post]
            n_new = int(round((~kept).sum() * gain))
            existing = set(zip(pre.tolist(), post.tolist(), strict=True))
            new_pre = crng.integers(0, a.n_neurons, n_new)
            new_post = crng.integers(0, b.n_neurons, n_new)
            fresh = np.array([(p, q) not in existing for p, q in
                              zip(new_pre.tolist(), new_post.tolist(), strict=True)], dtype=bool)
            fresh &= ~silent_pre[new_pre] & ~silent_post[new_post]
            pairs = np.unique(np.stack([new_pre[fresh], new_post[fresh]], axis=1), axis=0)
            pre = np.concatenate([pre[kept], pairs[:, 0]]).astype(np.int64)
            post = np.concatenate([post[kept], pairs[:, 1]]).astype(np.int64)
            z = np.concatenate([z[kept] * 0.8, 3.0 + crng.exponential(1.0, pairs.shape[0])])
        n = pre.size
        null_sd = np.full(n, 2.0)
        null_mean = np.full(n, 10.0)
        cofire = np.round(null_mean + z * null_sd).astype(np.int64)
        value = np.clip(z / 40.0, 0.0, 1.0)
        yield pa.RecordBatch.from_arrays(
            [pa.array([run_id] * n), pa.array([condition] * n), pa.array([a.name] * n),
             pa.array(pre), pa.array([b.name] * n), pa.array(post), pa.array(cofire),
             pa.array(value), pa.array(null_mean), pa.array(null_sd), pa.array(z)],
            schema=EDGE_SCHEMA)


def make_synthetic_run(
    root: Path,
    run_id: str = "synthetic",
    *,
    layers: Sequence[tuple[str, tuple[int, ...]]] = DEFAULT_LAYERS,
    conditions: Sequence[str] = ("clean", "uniform:0.2"),
    fan_in: int = 8,
    keep: float = 0.6,
    gain: float = 0.5,
    silent: float = 0.0,
    seed: int = 0,
) -> RunManifest:
    """Write a synthetic run folder at ``root`` and return its manifest.

    ``layers`` are (name, shape) in feed-forward order; ``fan_in`` is each post neuron's number
    of clean in-edges (so a layer pair holds n_post * fan_in clean edges).
    """
    run = RunFolder(root)
    root = run.root
    run.fc_edges.mkdir(parents=True, exist_ok=True)
    infos = [LayerInfo(name=name, order=i, shape=tuple(shape),
                       feeds_from=(layers[i - 1][0],) if i else ())
             for i, (name, shape) in enumerate(layers)]
    edge_paths = {}
    for condition in conditions:
        rel = run.relative(run.edges(condition))
        tmp = root / (rel + ".partial")
        with pq.ParquetWriter(tmp, EDGE_SCHEMA) as writer:
            for batch in _edge_batches(run_id, condition, infos, fan_in, seed, keep, gain,
                                       silent):
                writer.write_batch(batch, row_group_size=1 << 20)
        tmp.replace(root / rel)
        edge_paths[condition] = rel
    rng = np.random.default_rng([seed, 999])
    neuron_cols: dict[str, list[np.ndarray]] = {name: [] for name in NEURON_SCHEMA.names}
    for layer in infos:
        idx = np.arange(layer.n_neurons, dtype=np.int64)
        channel, y, x = layer.position(idx)
        rate = rng.uniform(0.01, 0.3, layer.n_neurons)
        neuron_cols["layer"].append(np.array([layer.name] * layer.n_neurons, dtype=object))
        for name, values in (("idx", idx), ("channel", channel), ("y", y), ("x", x)):
            neuron_cols[name].append(np.asarray(values, dtype=np.int64))
        neuron_cols["spike_count"].append(np.round(rate * 1000).astype(np.int64))
        neuron_cols["rate"].append(rate)
    table = pa.table({name: np.concatenate(parts) for name, parts in neuron_cols.items()},
                     schema=NEURON_SCHEMA)
    if silent > 0:  # one row per neuron and condition: the silent ones at 0 spikes
        per = []
        for condition in conditions:
            mask = np.concatenate([_silent(seed, condition, i, la.n_neurons, silent)
                                   for i, la in enumerate(infos)])
            counts = np.where(mask, 0, table.column("spike_count").to_numpy())
            rates = np.where(mask, 0.0, table.column("rate").to_numpy())
            per.append(table.set_column(5, "spike_count", pa.array(counts))
                       .set_column(6, "rate", pa.array(rates))
                       .append_column("condition", pa.array([condition] * table.num_rows)))
        table = pa.concat_tables(per)
    partial = run.fc_neurons.with_name(run.fc_neurons.name + ".partial")
    pq.write_table(table, partial)
    partial.replace(run.fc_neurons)
    manifest = RunManifest(
        run_id=run_id,
        layers=infos,
        conditions=[parse_condition(c) for c in conditions],
        T=8,
        n_images=125,
        fc={"parameters": {"measure": "sttc", "null": "synthetic", "z": 3.0, "seed": seed,
                           "fan_in": fan_in, **({"min_spikes": 1} if silent > 0 else {})},
            "neurons": run.relative(run.fc_neurons),
            "edges": edge_paths},
        provenance={"generator": "fcgraph.synthetic.make_synthetic_run"},
    )
    write_manifest(root, manifest)
    return manifest
