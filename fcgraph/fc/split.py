"""``fcgraph fc`` on a Dask cluster with layer pairs split into units of post tiles.

With ``unit_tiles = N > 0`` (``--unit-tiles``) and a cluster, :func:`~fcgraph.fc.run.compute_run`
sends no whole layer pairs: each layer pair still to compute becomes units of N consecutive
post tiles of :func:`~fcgraph.fc.edges.significant_edges` (tiles of ``tile`` tested post
neurons, numbered as an in-process run makes them), so that several workers share one big
pair. Two phases, each one Dask task per (condition, layer pair, tile range):

1. with the control threshold (the default), :func:`threshold_unit` runs the control draws
   on its tiles and returns its control z tail and counts; this process merges them, as they
   come, into one :class:`~fcgraph.fc.threshold.TailCollector` per pair (at most twice the
   values the threshold needs held here) and sets the pair's threshold, exactly the
   in-process one (:func:`~fcgraph.fc.threshold.control_tail`);
2. :func:`edges_unit` writes its tiles' edges at that threshold to
   ``fc/.parts/<slug>/<k>.t<a>.parquet`` (a row group per tile, atomically) and returns its
   report counts (and, with ``calibrate``, its tiles' calibration counts on control draw 0).

This process then streams the units' tables, in tile order, into the pair's part table and
writes its summary with the counts summed: the pair's part is the in-process one (but for
``seconds``: here the sum of its units' times, control units included), and so is every file
after it. Each unit recomputes the exact null's features of the pre layer (no relay between
pairs, nor between the units of one pair): the price of the split.

Not split (a unit stays a whole layer pair, as without ``unit_tiles``): ``fdr`` (the
Benjamini-Hochberg family spans the whole pair) and ``dense``. A pair resumes as a whole: the
units of a pair that was not finished are computed again by a rerun.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fcgraph import faults
from fcgraph.execution import ProgressFn, check_shared_folder, run_units
from fcgraph.fc.pair import (
    COUNT_KEYS,
    FcParts,
    calibration_entry,
    control_rule_keywords,
    control_threshold_entry,
    json_round_trip,
    pair_head,
    pair_inputs,
    pair_part_key,
    pair_spike_hashes,
    summed_calibration,
    threshold_entry,
    worker_backend,
    write_edges,
)
from fcgraph.fc.stats import normal_upper_tail

if TYPE_CHECKING:
    from distributed import Client

    from fcgraph.fc.backend import Backend
    from fcgraph.fc.settings import FcParams
    from fcgraph.record.reader import Recording

#: Counts of the report that are per neuron of a whole layer (the same in every unit).
LAYER_COUNTS = ("untested_pre", "untested_post")


def splits(params: FcParams) -> bool:
    """Whether layer pairs of these settings can be split into units of post tiles."""
    return params.fdr is None and not params.dense


def tile_ranges(n_tiles: int, unit_tiles: int) -> list[tuple[int, int]]:
    """``(a, b)`` ranges of ``unit_tiles`` tiles (the last one shorter) covering 0 .. n_tiles-1."""
    return [(a, min(a + unit_tiles, n_tiles)) for a in range(0, n_tiles, unit_tiles)]


@dataclass
class _Pair:
    """A layer pair to compute in units: where, its tile ranges and its control draws."""

    condition: str
    k: int
    pre: str
    post: str
    ranges: list[tuple[int, int]]
    draws: int = 0
    capacity: int = 0

    @property
    def task(self) -> str:
        return f"{self.condition} {self.pre}->{self.post}"


def _plan(rec: Recording, params: FcParams, tile: int, unit_tiles: int,
          todo: list[tuple[str, int, str, str]]) -> list[_Pair]:
    from fcgraph.fc.edges import count_tiles
    from fcgraph.fc.threshold import count_tested, n_draws, tail_capacity

    pairs = []
    for condition, k, pre, post in todo:
        pre_sm, post_sm, cand, _ = pair_inputs(rec, params, condition, pre, post)
        tested_post = int((post_sm.spike_counts() >= params.min_spikes).sum())
        pair = _Pair(condition, k, pre, post, tile_ranges(count_tiles(tested_post, tile), unit_tiles))
        if params.threshold == "control":
            once = count_tested(pre_sm, post_sm, min_spikes=params.min_spikes, candidates=cand,
                                tile=tile)
            pair.draws = params.control_draws or n_draws(once)
            pair.capacity = tail_capacity(params.z, once, pair.draws)
        pairs.append(pair)
    return pairs


def _unit_inputs(root: str, params: FcParams, backend: tuple[str, str], condition: str,
                 pre: str, post: str) -> tuple[Any, Backend, Any, Any, Any, dict[str, Any]]:
    from fcgraph.record.reader import open_recording

    rec = open_recording(root)
    return (rec, worker_backend(backend), *pair_inputs(rec, params, condition, pre, post))


def threshold_unit(root: str, params: FcParams, backend: tuple[str, str], tile: int,
                   condition: str, pre: str, post: str, tiles: tuple[int, int], draws: int,
                   capacity: int) -> dict[str, Any]:
    """The control draws of one layer pair's post tiles ``tiles`` (a Dask task).

    Parameters
    ----------
    root : str
        The run folder, at the same path as on the client.
    params : FcParams
        The settings (``threshold="control"``).
    backend : tuple of str
        The client's backend (name, detail).
    tile : int
        Post neurons per tile.
    condition, pre, post : str
        The condition and the pair's two layers.
    tiles : tuple of int
        Post tiles a .. b-1 of the pair.
    draws, capacity : int
        The pair's control draws and its tail capacity (from the whole pair).

    Returns
    -------
    dict
        ``largest`` (float64 control z values >= z, largest first), ``tested`` and
        ``normal_false`` (pairs tested over the draws, and with z >= the nominal z), and
        ``seconds``.
    """
    from fcgraph.fc.threshold import control_tail

    t0 = time.perf_counter()
    _, be, pre_sm, post_sm, cand, rule = _unit_inputs(root, params, backend, condition, pre, post)
    largest, tested, normal_false = control_tail(
        pre_sm, post_sm, T=rule["T"], z=params.z, seed=params.seed, draws=draws,
        capacity=capacity, **control_rule_keywords(rule), backend=be, tile=tile, candidates=cand,
        tiles=tiles)
    return {"largest": largest, "tested": tested, "normal_false": normal_false,
            "seconds": time.perf_counter() - t0}


def edges_unit(root: str, params: FcParams, backend: tuple[str, str], tile: int, condition: str,
               k: int, pre: str, post: str, tiles: tuple[int, int], z: float) -> dict[str, Any]:
    """The edges of one layer pair's post tiles ``tiles`` at threshold ``z`` (a Dask task):
    written to the unit's table (``fc/.parts/<slug>/<k>.t<a>.parquet``, atomically).

    Parameters are those of :func:`threshold_unit`, and ``k`` the pair's index.

    Returns
    -------
    dict
        The report's counts (:data:`~fcgraph.fc.pair.COUNT_KEYS`), ``n_shifts_used``,
        ``seconds`` and, with ``calibrate``, ``calibration`` (its tiles' counts on draw 0).
    """
    from fcgraph.io import writing_into

    t0 = time.perf_counter()
    rec, be, pre_sm, post_sm, cand, rule = _unit_inputs(root, params, backend, condition, pre, post)
    rule["z"] = z
    with writing_into(rec.path):
        report = write_edges(FcParts(rec.path).unit_table(condition, k, tiles[0]), pre_sm, post_sm,
                             rule, top_k=params.top_k, backend=be, tile=tile, pre_layer=pre,
                             post_layer=post, run_id=rec.run_id, condition=condition,
                             candidates=cand, tiles=tiles)
    got: dict[str, Any] = {key: int(report[key]) for key in COUNT_KEYS}
    got["n_shifts_used"] = report["n_shifts_used"]
    if params.calibrate:
        got["calibration"] = calibration_entry(params, rule, pre_sm, post_sm, backend=be, tile=tile,
                                          candidates=cand, tiles=tiles)
    got["seconds"] = time.perf_counter() - t0
    faults.checkpoint("fc.unit")
    return got


def compute_split(client: Client, rec: Recording, params: FcParams, backend: Backend, tile: int,
                  unit_tiles: int, todo: list[tuple[str, int, str, str]],
                  progress: ProgressFn | None,
                  after_pair: Callable[[str, str, str], None] | None,
                  ) -> dict[tuple[str, int], dict[str, Any]]:
    """Compute the layer pairs ``todo`` in units of ``unit_tiles`` post tiles (module doc).

    Parameters are those of :func:`fcgraph.fc.distributed.compute_on_cluster` (``progress``:
    0 done when a pair's first units are sent, all done when its part is saved), and
    ``unit_tiles``: post tiles per unit (>= 1).

    Returns
    -------
    dict
        The summary of each pair computed, by (condition, k).
    """
    lay = FcParts(rec.path)
    check_shared_folder(client, lay.plan.parent.resolve(), lay.plan.name)
    pairs = _plan(rec, params, tile, unit_tiles, todo)
    totals = [rec.layer(p.post).n_neurons for p in pairs]
    if progress is not None:
        for pair, total in zip(pairs, totals, strict=True):
            progress(pair.task, 0, total)
    root, be = str(rec.path.resolve()), (backend.name, backend.detail)
    units = [(i, a, b) for i, pair in enumerate(pairs) for a, b in pair.ranges]

    def describe(u: int) -> str:
        i, a, b = units[u]
        return f"layer pair {pairs[i].task}, post tiles {a}..{b - 1}"

    thresholds: dict[int, dict[str, Any]] = {}
    control_seconds = dict.fromkeys(range(len(pairs)), 0.0)
    if params.threshold == "control":
        from fcgraph.fc.threshold import TailCollector

        tails = {i: TailCollector(params.z, p.capacity) for i, p in enumerate(pairs)}
        sums = {i: {"tested": 0, "normal_false": 0, "seconds": 0.0} for i in range(len(pairs))}

        def tail_done(u: int, got: dict[str, Any]) -> None:
            i = units[u][0]
            tails[i].add(got["largest"])  # exact for the pair's capacity + 1 largest
            for key, total in sums[i].items():
                sums[i][key] = total + got[key]

        run_units(client, threshold_unit,
                  [(root, params, be, tile, pairs[i].condition, pairs[i].pre, pairs[i].post,
                    (a, b), pairs[i].draws, pairs[i].capacity) for i, a, b in units],
                  tail_done, describe=describe, name="fcgraph-fc-control")
        thresholds = {i: _merged_threshold(params, pairs[i], tails[i].largest(), sums[i])
                      for i in tails}
        control_seconds = {i: sums[i]["seconds"] for i in sums}
    else:
        thresholds = {i: threshold_entry(params, {}, None, None) for i in range(len(pairs))}

    results: dict[int, list[Any]] = {i: [None] * len(p.ranges) for i, p in enumerate(pairs)}
    found: dict[tuple[str, int], dict[str, Any]] = {}

    def edges_done(u: int, got: dict[str, Any]) -> None:
        i, a, b = units[u]
        pair = pairs[i]
        results[i][pair.ranges.index((a, b))] = got
        if all(r is not None for r in results[i]):
            found[pair.condition, pair.k] = _finish(rec, lay, params, backend, pair, thresholds[i],
                                                    results[i], control_seconds[i])
            if progress is not None:
                progress(pair.task, totals[i], totals[i])
            if after_pair is not None:
                after_pair(pair.condition, pair.pre, pair.post)

    run_units(client, edges_unit,
              [(root, params, be, tile, pairs[i].condition, pairs[i].k, pairs[i].pre,
                pairs[i].post, (a, b), thresholds[i]["z"]) for i, a, b in units],
              edges_done, describe=describe, name="fcgraph-fc-edges")
    return found


def _finish(rec: Recording, lay: FcParts, params: FcParams, backend: Backend, pair: _Pair,
            threshold: dict[str, Any], units: list[dict[str, Any]],
            control_seconds: float) -> dict[str, Any]:
    """Stream the units' tables into the pair's part table, save and return its summary
    (``seconds``: those of its units, ``control_seconds`` those of its control units)."""
    import pyarrow.parquet as pq

    from fcgraph.io import atomic_write
    from fcgraph.parts import write_part

    condition, k = pair.condition, pair.k
    tables = [lay.unit_table(condition, k, a) for a, _ in pair.ranges]

    def write(fh: Any) -> None:
        writer: pq.ParquetWriter | None = None
        for path in tables:
            pf = pq.ParquetFile(path)
            if writer is None:
                writer = pq.ParquetWriter(fh, pf.schema_arrow)
            for i in range(pf.num_row_groups):
                writer.write_table(pf.read_row_group(i))
        assert writer is not None
        writer.close()

    table_path, json_path = lay.part(condition, k)
    atomic_write(table_path, write)
    _, _, cand, _ = pair_inputs(rec, params, condition, pair.pre, pair.post)
    summary = pair_head(params, backend, condition, pair.pre, pair.post, cand)
    summary["threshold"] = threshold
    summary.update({key: units[0][key] if key in LAYER_COUNTS else sum(u[key] for u in units)
                    for key in COUNT_KEYS})
    summary.update(nominal_rate=float(normal_upper_tail(params.z)),
                   n_shifts_used=units[0]["n_shifts_used"])
    if params.calibrate:
        summary["calibration"] = summed_calibration(params, [u["calibration"] for u in units])
    summary["seconds"] = round(control_seconds + sum(u["seconds"] for u in units), 3)
    summary.update(pair_spike_hashes(rec, condition, pair.pre, pair.post))
    write_part(json_path, pair_part_key(rec, params, condition, pair.pre, pair.post),
               json_round_trip(summary))
    lay.remove_unit_tables(condition, k)
    return summary


def _merged_threshold(params: FcParams, pair: _Pair, largest: np.ndarray,
                      sums: dict[str, Any]) -> dict[str, Any]:
    """The pair's ``threshold`` entry from its units' control tails, merged (``largest``) and
    summed (``sums``: tested, normal_false): exact, module doc."""
    from fcgraph.fc.threshold import threshold_result

    got = threshold_result(largest, sums["tested"], sums["normal_false"], z=params.z,
                           draws=pair.draws)
    return control_threshold_entry(params, got)
