"""Significant functional edges between two layers, tile by tile, with a report of every pair.

The rule (docs/design.md): a pair (pre i, post j) is *tested* when both neurons have at least
``min_spikes`` spikes. A tested pair is an edge when its measure is finite, its null SD is
positive, its z is finite and z >= the threshold, where z = (C - null mean) / null SD is that
of the cofiring count C (the measure of the observed trains is reported as ``value``). With
``fdr=q`` the z threshold is replaced by Benjamini-Hochberg over all tested pairs: normal
one-sided p-values of z (exact null) or empirical p-values (1 + #shifts with C_s >= C) /
(1 + n_shifts) (shift null); pairs that cannot be edges (non-finite, zero spread) count in the
family with p = 1; edges are the pairs with q <= fdr. ``top_k`` then keeps, for every post
neuron, its K in-edges with the largest z (ties: lower pre_idx first).

Tested post neurons are processed ``tile`` at a time, so memory stays bounded by a few
(n_pre, tile) float64 arrays, the float32 pre trains and, for the exact null, a bounded block
of pre autocorrelation features.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fcgraph.errors import FcgraphError
from fcgraph.fc.backend import Backend, get_backend
from fcgraph.fc.counts import DEFAULT_TILE, StagedTrains, summed_products
from fcgraph.fc.exact import ExactNullBlocks, ExactShiftNull
from fcgraph.fc.feature_relay import FeatureRelay
from fcgraph.fc.measures import MEASURES, TiledSttc, measure_from_counts, measure_of_pairs
from fcgraph.fc.settings import NULLS
from fcgraph.fc.shifts import count_null_block, resolve_shifts, trial_shifts
from fcgraph.fc.stats import bh_qvalues, normal_upper_tail
from fcgraph.spikes import Spikes, SpikeSource, as_source, check_pair

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Edge table columns in contract order (fcgraph.contract.EDGE_COLUMNS), then optional p, q.
EDGE_COLUMN_ORDER = ("run_id", "condition", "pre_layer", "pre_idx", "post_layer", "post_idx",
                     "cofire", "value", "null_mean", "null_sd", "z")
#: Candidate pairs: a boolean (n_pre, n_post) array or ``(j0, j1) -> bool (n_pre, j1 - j0)``.
Candidates = np.ndarray | Callable[[int, int], np.ndarray]
_NUMERIC = ("pre_idx", "post_idx", "cofire", "value", "null_mean", "null_sd", "z", "p", "q")


@dataclass
class _Rows:
    """Selected pairs collected over tiles (NumPy arrays, concatenated at the end)."""

    parts: dict[str, list[np.ndarray]] = field(
        default_factory=lambda: {k: [] for k in _NUMERIC})

    def add(self, **cols: np.ndarray) -> None:
        for key, values in cols.items():
            self.parts[key].append(values)

    def arrays(self) -> dict[str, np.ndarray]:
        dtypes = {"pre_idx": np.int64, "post_idx": np.int64, "cofire": np.int64}
        return {k: (np.concatenate(v) if v else np.empty(0, dtypes.get(k, np.float64)))
                for k, v in self.parts.items()}


def _take(arrays: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[keep] for k, v in arrays.items()}


def top_k_mask(post_idx: np.ndarray, pre_idx: np.ndarray, z: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask keeping, per post neuron, the k rows of largest z (ties: lower pre_idx)."""
    if k < 0:
        raise FcgraphError(f"top_k must be >= 0, got {k}")
    order = np.lexsort((pre_idx, -z, post_idx))
    sorted_post = post_idx[order]
    starts = np.flatnonzero(np.r_[True, sorted_post[1:] != sorted_post[:-1]]) if order.size else \
        np.empty(0, np.int64)
    group_start = np.repeat(starts, np.diff(np.r_[starts, order.size]))
    keep = np.zeros(order.size, dtype=bool)
    keep[order[(np.arange(order.size) - group_start) < k]] = True
    return keep


def edge_frame(arrays: dict[str, np.ndarray], *, run_id: str, condition: str, pre_layer: str,
               post_layer: str, with_pq: bool) -> pd.DataFrame:
    """The edge table as a pandas DataFrame with the contract's columns and dtypes."""
    import pandas as pd

    n = arrays["pre_idx"].size
    index = pd.RangeIndex(n)

    def text(value: str) -> pd.Series:
        return pd.Series(value, index=index, dtype="string")

    data: dict[str, Any] = {
        "run_id": text(run_id), "condition": text(condition),
        "pre_layer": text(pre_layer), "pre_idx": arrays["pre_idx"].astype(np.int64),
        "post_layer": text(post_layer), "post_idx": arrays["post_idx"].astype(np.int64),
        "cofire": arrays["cofire"].astype(np.int64),
    }
    for name in ("value", "null_mean", "null_sd", "z") + (("p", "q") if with_pq else ()):
        data[name] = arrays[name].astype(np.float64)
    return pd.DataFrame(data, index=index)


def edge_table(arrays: dict[str, np.ndarray], *, run_id: str, condition: str, pre_layer: str,
               post_layer: str, with_pq: bool) -> pa.Table:
    """The edge rows as an Arrow table with exactly the contract's schema (+ p, q), built
    without pandas (string columns from a one-entry dictionary: fast for millions of rows)."""
    import pyarrow as pa

    from fcgraph.contract import EDGE_COLUMNS, OPTIONAL_EDGE_COLUMNS

    n = arrays["pre_idx"].size
    codes = pa.array(np.zeros(n, dtype=np.int32))

    def text(value: str) -> pa.Array:
        return pa.DictionaryArray.from_arrays(codes, pa.array([value], pa.string())).cast(pa.string())

    columns: dict[str, Any] = {"run_id": text(run_id), "condition": text(condition),
                               "pre_layer": text(pre_layer), "post_layer": text(post_layer)}
    for name in ("pre_idx", "post_idx", "cofire"):
        columns[name] = pa.array(np.asarray(arrays[name], dtype=np.int64))
    extra = ("p", "q") if with_pq else ()
    for name in ("value", "null_mean", "null_sd", "z") + extra:
        columns[name] = pa.array(np.asarray(arrays[name], dtype=np.float64))
    fields = list(EDGE_COLUMNS.items()) + [(k, OPTIONAL_EDGE_COLUMNS[k]) for k in extra]
    return pa.table({name: columns[name] for name, _ in fields}, schema=pa.schema(fields))


def edges_to_arrow(edges: pd.DataFrame) -> pa.Table:
    """The edge DataFrame as an Arrow table with exactly the contract's schema (+ p, q if present)."""
    import pyarrow as pa

    from fcgraph.contract import EDGE_COLUMNS, OPTIONAL_EDGE_COLUMNS

    fields = list(EDGE_COLUMNS.items()) + [(k, t) for k, t in OPTIONAL_EDGE_COLUMNS.items()
                                            if k in edges.columns]
    schema = pa.schema(fields)
    return pa.Table.from_pandas(edges[[name for name, _ in fields]], schema=schema,
                                preserve_index=False)


def _report(counts: dict[str, int], tested_pre: np.ndarray, tested_post: np.ndarray,
            spikes_pre: np.ndarray, spikes_post: np.ndarray, *, pairs: int, significant: int,
            edges: int, in_degree: np.ndarray, threshold: float, L: int,
            n_null: int) -> dict[str, Any]:
    """The report dict of :func:`significant_edges` (documented there)."""
    return {
        "pairs": pairs,
        "tested": counts["tested"],
        "untested": pairs - counts["tested"],
        "untested_pre": int((~tested_pre).sum()),
        "untested_post": int((~tested_post).sum()),
        "untested_pre_idx": np.flatnonzero(~tested_pre).astype(np.int64),
        "untested_post_idx": np.flatnonzero(~tested_post).astype(np.int64),
        "zero_spread": counts["zero_spread"],
        "nonfinite": counts["nonfinite"],
        "negative_tail": counts["negative_tail"],
        "significant": significant,
        "edges": edges,
        "post_in_degree": in_degree,
        "pre_spike_count": spikes_pre,
        "post_spike_count": spikes_post,
        "nominal_rate": float(normal_upper_tail(threshold)),
        "L": L,
        "n_shifts_used": n_null,
    }


def _null_kind(null: str, T: int, shift_unit: int | None, L: int, trials: int | None
               ) -> tuple[str, int]:
    if null not in NULLS:
        raise FcgraphError(f"null must be one of {', '.join(NULLS)}, got {null!r}")
    if null == "trial":
        return null, int(trial_shifts(L, trials or 1)[0])
    unit = T if shift_unit is None else int(shift_unit)
    if null == "exact" and unit not in (T, 1):
        raise FcgraphError(f"the exact null covers whole images (shift_unit = T = {T}) or every bin "
                           f"(shift_unit = 1), not shift_unit = {unit}")
    return null, unit


class _CountNull:
    """The null of the cofiring count for one layer pair: exact, or sampled shifts."""

    def __init__(self, null: str, unit: int, pre: StagedTrains, *, T: int, n_shifts: int,
                 min_shift: int, seed: int, trials: int | None = None,
                 relay: FeatureRelay | None = None,
                 pre_layer: Hashable = None, pre_rows: np.ndarray | None = None) -> None:
        self.pre = pre
        self.shifts: np.ndarray | None = None
        self.exact: ExactNullBlocks | None = None
        #: where the exact null sends each post tile's features (the relay), if anywhere
        self.keep: Callable[[np.ndarray, np.ndarray], None] | None = None
        if null == "exact":
            spec = ExactShiftNull(pre.L, over="images" if unit == T else "bins", T=T)
            features = relay.take(pre_layer, spec, pre_rows) if relay is not None else None
            self.exact = ExactNullBlocks(spec, pre.host, pre.backend, features)
            self.n_shifts = spec.n_shifts
            if relay is not None:
                self.keep = relay.keep
        elif null == "trial":
            self.shifts = trial_shifts(pre.L, trials or 1)
            self.n_shifts = int(self.shifts.size)
        else:
            self.shifts = resolve_shifts(pre.L, None, T=T, n_shifts=n_shifts, min_shift=min_shift,
                                         shift_unit=unit, seed=seed)
            self.n_shifts = int(self.shifts.size)

    def moments(self, post: StagedTrains, observed_dev: Any, observed: np.ndarray,
                exceedances: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(mean, sd, n_ge) float64 (n_pre, n_tile); n_ge (shift null, when asked) int64."""
        if self.exact is not None:
            mean, sd = self.exact.moments(post.host, observed, keep=self.keep)
            return mean, sd, None
        res = count_null_block(self.pre, post, self.shifts,
                               observed=observed_dev if exceedances else None)
        return res.mean, res.sd, res.n_ge



def _select_kept(arrays: dict[str, np.ndarray], fdr: float | None, top_k: int | None,
                 n_tested: int, n_post: int, significant: int,
                 in_degree: np.ndarray) -> tuple[dict[str, np.ndarray], int, np.ndarray]:
    """The edges kept from a pair's collected rows, ordered by post_idx then pre_idx: with
    ``fdr`` those with Benjamini-Hochberg q <= fdr over the ``n_tested`` pairs (q added); with
    ``top_k`` each post neuron's strongest in-edges. Returns them with the number of significant
    edges and the post in-degrees before the top-k cut (those already counted per tile when
    top-k was applied there, i.e. with the z rule)."""
    if fdr is not None:
        arrays["q"] = bh_qvalues(arrays["p"], n_tested)
        arrays = _take(arrays, arrays["q"] <= fdr)
    else:
        arrays.pop("p")
        arrays.pop("q")
    if fdr is not None or top_k is None:
        significant = arrays["pre_idx"].size
        in_degree = np.bincount(arrays["post_idx"], minlength=n_post).astype(np.int64)
        if top_k is not None:
            arrays = _take(arrays, top_k_mask(arrays["post_idx"], arrays["pre_idx"],
                                              arrays["z"], top_k))
    return _take(arrays, np.lexsort((arrays["pre_idx"], arrays["post_idx"]))), significant, in_degree


def _candidate_block(candidates: Candidates | None, s0: int, s1: int, n_pre: int,
                     keep_pre: np.ndarray, post_idx: np.ndarray) -> tuple[np.ndarray | None, int]:
    """The candidate pairs of post span s0 .. s1-1 restricted to the kept neurons, bool
    (keep_pre.size, post_idx.size) or None (every pair), and the span's number of candidate
    pairs over all neurons."""
    if candidates is None:
        return None, n_pre * (s1 - s0)
    block = candidates(s0, s1) if callable(candidates) else candidates[:, s0:s1]
    block = np.asarray(block, dtype=bool)
    if block.shape != (n_pre, s1 - s0):
        raise FcgraphError(f"candidates block has shape {block.shape}, expected "
                           f"{(n_pre, s1 - s0)}")
    return block[np.ix_(keep_pre, post_idx - s0)], int(block.sum())


@dataclass
class _PairScan:
    """One layer pair's tiles on the generic path (products, null moments, z, selection): the
    pre side staged once, the pair counts of the report summed over the tiles."""

    be: Backend
    measure: str
    L: int
    z: float
    fdr: float | None
    staged_pre: StagedTrains
    spikes_pre: np.ndarray   # (n_kept_pre,) spikes of the kept pre neurons
    tested_pre: np.ndarray   # (n_kept_pre,) bool
    spikes_post: np.ndarray  # (n_post,) all post neurons
    tested_post: np.ndarray  # (n_post,) bool
    degenerate_pre: bool
    tiled: TiledSttc | None
    count_null: _CountNull
    dense: dict[str, Any] | None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("tested", "zero_spread", "nonfinite", "negative_tail"), 0))

    def tile(self, post_rows: np.ndarray, post_idx: np.ndarray, s0: int, s1: int,
             block: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray],
                                                np.ndarray | None]:
        """The selected pairs of one post tile: (pre_local, post_local) indices into the kept
        pre neurons and ``post_idx``, their columns (cofire, value, null_mean, null_sd, z), and
        every pair's p-value with ``fdr`` (else None)."""
        be, measure, L, z, fdr = self.be, self.measure, self.L, self.z, self.fdr
        tiled, dense, counts = self.tiled, self.dense, self.counts
        staged_post = StagedTrains(post_rows, be)
        observed_dev = summed_products(self.staged_pre, staged_post, [(0, 0, L)])
        c = np.rint(be.to_numpy(observed_dev))  # exact integers, float
        na, nb = self.spikes_pre, self.spikes_post[post_idx]
        # dt = 0 measures are finite unless a neuron is silent or always on: then they are
        # computed for the selected pairs only
        lazy = tiled is None and dense is None and not (
            self.degenerate_pre or _degenerate(nb, L).any())
        value = None if lazy else tiled(post_rows) if tiled is not None else \
            measure_from_counts(measure, c, na, nb, L)
        mean, sd, n_ge = self.count_null.moments(staged_post, observed_dev, c, fdr is not None)
        with np.errstate(divide="ignore", invalid="ignore"):
            zz = (c - mean) / sd
        tested = None  # None: every pair of the tile is tested
        if not (self.tested_pre.all() and self.tested_post[post_idx].all()):
            tested = self.tested_pre[:, None] & self.tested_post[None, post_idx]
        if block is not None:
            tested = block if tested is None else tested & block
        if dense is not None:  # not compacted: post_idx is s0 .. s1-1
            for key, arr in (("cofire", c), ("value", value), ("null_mean", mean),
                             ("null_sd", sd), ("z", zz)):
                if key in dense:
                    dense[key][:, s0:s1] = arr
        spread = sd > 0
        valid = spread & np.isfinite(zz)
        if value is not None:
            valid &= np.isfinite(value)
        if tested is not None:
            spread &= tested
            valid &= tested
        n_tested = zz.size if tested is None else np.count_nonzero(tested)
        n_spread, n_valid = np.count_nonzero(spread), np.count_nonzero(valid)
        counts["tested"] += n_tested
        counts["zero_spread"] += n_tested - n_spread
        counts["nonfinite"] += n_spread - n_valid
        counts["negative_tail"] += int(np.count_nonzero(valid & (zz <= -z)))
        p = None
        if fdr is None:
            select = valid & (zz >= z)
        else:
            n_null = self.count_null.n_shifts
            p = (1.0 + n_ge) / (1.0 + n_null) if n_ge is not None else normal_upper_tail(zz)
            select = valid & (p <= fdr)
        post_local, pre_local = np.nonzero(select.T)
        cofire = c[pre_local, post_local]
        got = {"cofire": cofire.astype(np.int64),
               "value": value[pre_local, post_local] if value is not None else
               measure_of_pairs(measure, cofire, na[pre_local], nb[post_local], L),
               "null_mean": mean[pre_local, post_local], "null_sd": sd[pre_local, post_local],
               "z": zz[pre_local, post_local]}
        return pre_local, post_local, got, p


def _post_tiles(keep: np.ndarray, n_post: int,
                tile: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """Post tiles: (s0, s1, idx) with idx up to ``tile`` kept neurons, all within s0 .. s1-1.

    The spans s0 .. s1-1 cover 0 .. n_post-1 once, in order (so candidate blocks and progress
    follow the original neuron order, untested neurons included)."""
    if n_post == 0:
        return
    starts = list(range(0, keep.size, tile)) or [0]
    for k, a in enumerate(starts):
        s0 = 0 if k == 0 else int(keep[a])
        s1 = int(keep[starts[k + 1]]) if k + 1 < len(starts) else n_post
        yield s0, s1, keep[a:a + tile]


def count_tiles(n_tested_post: int, tile: int) -> int:
    """The post tiles :func:`significant_edges` makes of ``n_tested_post`` tested post neurons
    (without ``dense``), ``tile`` at a time: at least one."""
    return max(1, -(-n_tested_post // tile))


def _degenerate(spike_counts: np.ndarray, L: int) -> np.ndarray:
    """Neurons whose trains make a measure undefined: silent, or spiking in every bin."""
    return (spike_counts == 0) | (spike_counts == L)


def _rows_at(src: SpikeSource, s0: int, s1: int, idx: np.ndarray) -> np.ndarray:
    """Boolean trains (idx.size, L) of neurons ``idx``, all within s0 .. s1-1."""
    rows = src.rows(s0, s1)
    return rows if idx.size == s1 - s0 else rows[idx - s0]


def significant_edges(pre: Spikes, post: Spikes, *, T: int, measure: str = "sttc", dt: int = 0,
                      null: str = "exact", z: float = 3.0, min_spikes: int = 10,
                      fdr: float | None = None, top_k: int | None = None, n_shifts: int = 100,
                      min_shift: int = 40, shift_unit: int | None = None, seed: int = 0,
                      trials: int | None = None, backend: str | Backend = "numpy", tile: int = DEFAULT_TILE,
                      pre_layer: str = "pre", post_layer: str = "post", run_id: str = "run",
                      condition: str = "clean", candidates: Candidates | None = None,
                      dense: dict[str, Any] | None = None,
                      sink: Callable[[pa.Table], None] | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      relay: FeatureRelay | None = None,
                      tiles: tuple[int, int] | None = None,
                      ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Significant functional edges from a pre layer to a post layer, and a report.

    ``pre`` (n_pre, L), ``post`` (n_post, L): boolean trains or :class:`SpikeMatrix`, L = T x
    n_images bins. ``measure``: "sttc" (``dt`` bins), "pearson" or "cofire" (the ``value``
    column; z is always that of the same-bin cofiring count, also with dt > 0). ``null``:
    "exact" (every whole-image shift k T, k = 1 .. M-1, or with shift_unit=1 every bin shift;
    no sampling, so n_shifts and min_shift do not apply) or "shift" (``n_shifts`` drawn
    offsets, multiples of ``shift_unit``, default T, of at least ``min_shift`` bins) or
    "trial" (the trial-shuffle null of a recording of ``trials`` repeats of the same images,
    trial-major: every whole-trial shift, :func:`~fcgraph.fc.shifts.trial_shifts`).
    ``z``: threshold; ``min_spikes``: per neuron; ``fdr``: BH level replacing the z threshold;
    ``top_k``: in-edges kept per post neuron. Post neurons go ``tile`` at a time.

    Returns ``(edges, report)``. ``edges``: one row per edge, columns run_id, condition,
    pre_layer, pre_idx, post_layer, post_idx, cofire, value, null_mean, null_sd, z (+ p, q
    with fdr), ordered by post_idx then pre_idx, dtypes string / int64 / float64 as in
    ``fcgraph.contract.EDGE_COLUMNS`` (``edges_to_arrow`` gives the exact Arrow schema).
    ``report``: pair counts over all n_pre x n_post pairs -- ``pairs``, ``tested``,
    ``untested``; ``zero_spread`` (tested, null SD 0), ``nonfinite`` (tested, SD > 0 but
    measure or z not finite), ``negative_tail`` (valid, z <= -threshold), ``significant``
    (edges before the top_k cut), ``edges`` (rows returned); neuron level --
    ``untested_pre`` / ``untested_post`` (counts) and ``untested_pre_idx`` /
    ``untested_post_idx`` (int64 arrays), ``post_in_degree`` (int64 (n_post,), significant
    in-edges per post neuron BEFORE the top_k cut), ``pre_spike_count`` / ``post_spike_count``;
    and ``nominal_rate`` (one-sided normal tail of the threshold), ``L``, ``n_shifts_used``,
    ``params``.

    Streaming and restriction (used by :func:`fcgraph.fc.run.compute_run`):

    - ``candidates``: a boolean (n_pre, n_post) array, or a function ``(j0, j1) -> bool
      (n_pre, j1 - j0)`` giving the block for post neurons j0 .. j1-1: only candidate pairs are
      tested, counted in ``pairs`` and eligible as edges (the FDR family is the tested
      candidates). The products still cover every pair of tested neurons.
    - ``dense``: arrays (or ``numpy.memmap``) of shape (n_pre, n_post) under any of the keys
      cofire, value, null_mean, null_sd, z, filled tile by tile with every pair's numbers.
    - ``sink``: called with each post tile's edges (a ``pyarrow.Table`` with the contract's
      schema, rows in the final order) instead of collecting them, so memory stays bounded by a
      tile; the returned ``edges`` is then empty. With ``fdr`` the family spans the whole layer
      pair, so the edges are collected first, passed to ``sink`` once and also returned.
    - ``progress``: called as ``progress(post_neurons_done, n_post)`` after each tile.
    - ``relay``: a :class:`~fcgraph.fc.feature_relay.FeatureRelay` shared by the calls of a
      chain of layer pairs of one condition: the exact null's features of this post layer are
      kept there and reused when the next call's pre layer is the same (``condition``,
      ``post_layer``) with the same tested neurons and null, instead of computed again.
    - ``tiles``: ``(a, b)``, only post tiles a .. b-1 (numbered over the whole pair, as a run
      of every tile makes them) are computed; ``pairs``, the pair counts, ``significant``,
      ``edges`` and ``post_in_degree`` then cover those tiles only (summed over a partition of
      the tiles they give the whole pair's). A pair has max(1, ceil(tested post / tile))
      tiles (:func:`count_tiles`).

    Neurons with fewer than ``min_spikes`` spikes are left out of every product (a tile holds
    up to ``tile`` tested post neurons), unless ``dense`` asks for every pair's numbers.
    """
    if measure not in MEASURES:
        raise FcgraphError(f"unknown measure {measure!r} (one of {', '.join(MEASURES)})")
    if dt and measure != "sttc":
        raise FcgraphError("dt applies to measure='sttc' only")
    if fdr is not None and not 0 < fdr < 1:
        raise FcgraphError(f"fdr must lie in (0, 1), got {fdr}")
    be = get_backend(backend)
    src_a, src_b = as_source(pre, "pre"), as_source(post, "post")
    L = check_pair(src_a, src_b)
    if T < 1 or L % T:
        raise FcgraphError(f"L = {L} bins is not a whole number of images of T = {T} steps")
    null, unit = _null_kind(null, T, shift_unit, L, trials)
    n_post = src_b.n_neurons
    spikes_pre, spikes_post = src_a.spike_counts(), src_b.spike_counts()
    tested_pre, tested_post = spikes_pre >= min_spikes, spikes_post >= min_spikes

    # Untested neurons can never be in an edge: leave them out of every product (unless the
    # dense matrices, which hold every pair, are asked for).
    keep_pre = np.flatnonzero(tested_pre) if dense is None else np.arange(src_a.n_neurons)
    keep_post = np.flatnonzero(tested_post) if dense is None else np.arange(n_post)
    pre_rows = src_a.rows()
    if keep_pre.size < src_a.n_neurons:
        pre_rows = pre_rows[keep_pre]
    tested_kept, spikes_kept = tested_pre[keep_pre], spikes_pre[keep_pre]
    degenerate_pre = bool(_degenerate(spikes_kept, L).any())
    staged_pre = StagedTrains(pre_rows, be)
    tiled = TiledSttc(pre_rows, dt, be) if measure == "sttc" and dt > 0 else None
    count_null = _CountNull(null, unit, staged_pre, T=T, n_shifts=n_shifts, min_shift=min_shift,
                            seed=seed, trials=trials, relay=relay, pre_layer=(condition, pre_layer),
                            pre_rows=keep_pre)
    if relay is not None and count_null.exact is not None:
        relay.start((condition, post_layer), count_null.exact.null, keep_post)
    n_null = count_null.n_shifts
    fused = None  # the backend's own path, where it has one
    if null != "exact" and tiled is None and fdr is None and dense is None:
        fused = be.fused_shift_null(pre_rows, count_null.shifts, measure=measure, z=z,
                                    tested_pre=tested_kept, spike_counts=spikes_kept)

    scan = _PairScan(be, measure, L, z, fdr, staged_pre, spikes_kept, tested_kept, spikes_post,
                     tested_post, degenerate_pre, tiled, count_null, dense)
    counts = scan.counts
    rows = _Rows()
    in_degree = np.zeros(n_post, dtype=np.int64)
    significant = 0
    n_pairs = 0
    streaming = sink is not None and fdr is None
    n_streamed = 0
    for t, (s0, s1, post_idx) in enumerate(_post_tiles(keep_post, n_post, tile)):
        if tiles is not None and not tiles[0] <= t < tiles[1]:
            continue
        block, span_pairs = _candidate_block(candidates, s0, s1, src_a.n_neurons, keep_pre, post_idx)
        n_pairs += span_pairs
        p = None
        if post_idx.size == 0 or keep_pre.size == 0:  # nothing to test in this span
            pre_local = post_local = np.empty(0, np.int64)
            got = {k: np.empty(0, np.int64 if k == "cofire" else np.float64)
                   for k in ("cofire", "value", "null_mean", "null_sd", "z")}
        elif fused is not None:  # CuPy: counts, null, measure and threshold on the GPU
            post_rows = _rows_at(src_b, s0, s1, post_idx)
            got, tile_counts = fused.tile(post_rows, tested_post[post_idx], block,
                                          spike_counts=spikes_post[post_idx])
            for key, number in tile_counts.items():
                scan.counts[key] += number
            pre_local, post_local = got["pre_idx"], got["post_local"]
        else:
            pre_local, post_local, got, p = scan.tile(_rows_at(src_b, s0, s1, post_idx),
                                                     post_idx, s0, s1, block)
        picked = {"pre_idx": keep_pre[pre_local].astype(np.int64),
                  "post_idx": post_idx[post_local].astype(np.int64),
                  **{k: got[k] for k in ("cofire", "value", "null_mean", "null_sd", "z")}}
        pre_idx = picked["pre_idx"]
        if p is not None:
            picked["p"] = p[pre_local, post_local]
        elif top_k is not None:  # z rule: every in-edge of these post neurons is here
            significant += pre_idx.size
            in_degree += np.bincount(picked["post_idx"], minlength=n_post)
            picked = _take(picked, top_k_mask(picked["post_idx"], pre_idx, picked["z"], top_k))
        if streaming:
            if top_k is None:
                significant += pre_idx.size
                in_degree += np.bincount(picked["post_idx"], minlength=n_post)
            order = np.lexsort((picked["pre_idx"], picked["post_idx"]))
            n_streamed += order.size
            sink(edge_table(_take(picked, order), run_id=run_id, condition=condition,
                            pre_layer=pre_layer, post_layer=post_layer, with_pq=False))
        else:
            rows.add(**picked)
        if progress is not None:
            progress(s1, n_post)

    arrays = rows.arrays()
    if streaming:  # every tile already went to the sink: nothing was collected
        arrays = {k: v for k, v in arrays.items() if k not in ("p", "q")}
    else:
        arrays, significant, in_degree = _select_kept(arrays, fdr, top_k, counts["tested"], n_post,
                                                      significant, in_degree)
    edges = edge_frame(arrays, run_id=run_id, condition=condition, pre_layer=pre_layer,
                       post_layer=post_layer, with_pq=fdr is not None)
    if sink is not None and not streaming:
        sink(edges_to_arrow(edges))
    report = _report(counts, tested_pre, tested_post, spikes_pre, spikes_post, pairs=n_pairs,
                     significant=int(significant), edges=n_streamed if streaming else len(edges),
                     in_degree=in_degree, threshold=z, L=L, n_null=n_null)
    report["params"] = {"T": T, "measure": measure, "dt": dt, "null": null, "z": z,
                        "min_spikes": min_spikes, "fdr": fdr, "top_k": top_k,
                        "n_shifts": n_shifts if null == "shift" else None,
                        "min_shift": min_shift if null == "shift" else None, "shift_unit": unit,
                        "trials": trials if null == "trial" else None, "seed": seed,
                        "backend": be.name, "tile": tile}
    return edges, report
