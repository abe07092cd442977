"""A z threshold set from the negative control, so that the false-edge rate is the nominal one.

The z of a cofiring count is not normal under the null: with few images the whole-image shift
distribution of a sparse, bursty pair is skewed, and the share of independent pairs with
z >= 3 is often 2-5x the normal tail 0.00135. The *control* rule keeps the nominal rate
alpha = P(Z >= z) (z: the user's ``--z``) and sets the threshold from image-reordered
controls of the same layer pair (:mod:`fcgraph.fc.calibration`, draws 1, 2, ...): of the
``tested`` control pairs (over all draws), at most k = floor(alpha x tested) may reach the
threshold. With the control's z values v_1 >= v_2 >= ..., the threshold is the midpoint of
v_k and v_(k+1) (just above v_1 when k = 0), never below z itself; the real pairs are then
edges when their z reaches it.

One draw is one reordering shared by every pair of the layer pair, so where neurons are
image-selective (late layers) its false-edge rate varies several-fold from draw to draw: the
rule pools draws until the control has tested :data:`CONTROL_PAIRS` pairs (at most
:data:`MAX_DRAWS`; big layer pairs need one, small ones are cheap), estimating the rate
expected over draws.

Memory stays bounded: only control z values >= z are kept (the threshold is never below z),
and of those at most the 2 (K + 1) largest, K = floor(alpha x tested pairs x draws) >= k, so
the collection is exact at the quantile while it holds at most a small multiple of the edges
a nominal rule would find.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from fcgraph.errors import FcgraphError
from fcgraph.fc.calibration import control_trains
from fcgraph.fc.counts import DEFAULT_TILE
from fcgraph.fc.edges import Candidates, significant_edges
from fcgraph.fc.stats import normal_upper_tail
from fcgraph.spikes import Spikes, as_source

if TYPE_CHECKING:
    import pyarrow as pa

#: Threshold rules of fc: set from the control (default), or the normal tail of z.

#: The first control draw a control threshold is set from (calibration measures draw 0).
THRESHOLD_DRAW = 1
#: Automatic draws: as many as needed for the control to test this many pairs ...
CONTROL_PAIRS = 20_000_000
#: ... but no more than this many.
MAX_DRAWS = 16


class TailCollector:
    """The largest values of a stream that are >= ``floor``, at most ``2 (capacity + 1)`` kept.

    Exact for the ``capacity + 1`` largest values >= ``floor`` however long the stream: a value
    is dropped only when ``capacity + 1`` larger-or-equal values were kept.
    """

    def __init__(self, floor: float, capacity: int) -> None:
        self.floor = float(floor)
        self.capacity = int(capacity)
        self._parts: list[np.ndarray] = []
        self._n = 0

    def add(self, values: np.ndarray) -> None:
        """Take float64 values (any shape); NaN and values below the floor are ignored."""
        values = np.asarray(values, dtype=np.float64).ravel()
        kept = values[values >= self.floor]
        if kept.size:
            self._parts.append(kept)
            self._n += kept.size
            if self._n > 2 * (self.capacity + 1):
                self._compact()

    def _compact(self) -> None:
        values = np.concatenate(self._parts)
        keep = self.capacity + 1
        if values.size > keep:
            values = np.partition(values, values.size - keep)[values.size - keep:]
            self.floor = float(values.min())
        self._parts, self._n = [values], values.size

    def largest(self) -> np.ndarray:
        """The kept values, float64, largest first (the ``capacity + 1`` largest at least)."""
        values = np.concatenate(self._parts) if self._parts else np.empty(0)
        return np.sort(values)[::-1]


def threshold_from_tail(largest: np.ndarray, tested: int, rate: float,
                        z_min: float) -> tuple[float, int]:
    """The threshold letting at most floor(rate x tested) control pairs through, and how many do.

    ``largest``: float64, descending, every control z >= ``z_min`` (or at least the
    floor(rate x tested) + 1 largest). Returns ``(threshold, false_edges)``: the midpoint of
    the k-th and (k+1)-th largest (just above the largest when k = 0), raised to ``z_min``,
    and the number of control values >= it (<= k; fewer only with ties or at ``z_min``).
    """
    k = math.floor(rate * tested * (1 + 1e-12))
    if largest.size <= k:
        return float(z_min), int(largest.size)
    below = largest[k]
    threshold = np.nextafter(below, np.inf) if k == 0 else 0.5 * (largest[k - 1] + below)
    if threshold <= below:  # ties, or neighbours too close for a midpoint
        threshold = np.nextafter(below, np.inf)
    threshold = max(float(threshold), float(z_min))
    return threshold, int(np.count_nonzero(largest >= threshold))


def count_tested(pre: Spikes, post: Spikes, *, min_spikes: int = 10,
                 candidates: Candidates | None = None, tile: int = DEFAULT_TILE) -> int:
    """The pairs :func:`~fcgraph.fc.edges.significant_edges` tests: candidate pairs (all without
    ``candidates``) whose two neurons have at least ``min_spikes`` spikes (any image order)."""
    ok_pre = as_source(pre, "pre").spike_counts() >= min_spikes
    ok_post = as_source(post, "post").spike_counts() >= min_spikes
    if candidates is None:
        return int(ok_pre.sum()) * int(ok_post.sum())
    total = 0
    for j0 in range(0, ok_post.size, tile):
        j1 = min(j0 + tile, ok_post.size)
        block = candidates(j0, j1) if callable(candidates) else candidates[:, j0:j1]
        total += int(np.count_nonzero(np.asarray(block, dtype=bool)[ok_pre][:, ok_post[j0:j1]]))
    return total


def n_draws(tested: int, control_pairs: int = CONTROL_PAIRS, max_draws: int = MAX_DRAWS) -> int:
    """Control draws needed to test at least ``control_pairs`` pairs, from 1 to ``max_draws``."""
    return int(min(max_draws, max(1, -(-control_pairs // max(tested, 1)))))


def control_threshold(pre: Spikes, post: Spikes, *, T: int, z: float = 3.0, seed: int = 0,
                      draws: int | None = None, first_draw: int = THRESHOLD_DRAW,
                      **rule: Any) -> dict[str, Any]:
    """The z threshold at which the image-reordered control's false-edge rate is the nominal one.

    ``pre`` (n_pre, L), ``post`` (n_post, L): boolean trains or :class:`SpikeMatrix`, L = T x
    n_images bins. ``z``: the nominal threshold; the nominal rate is its one-sided normal tail
    (0.00135 at z = 3). ``draws``: control draws pooled (draw ids ``first_draw`` ..
    ``first_draw + draws - 1`` of :func:`fcgraph.fc.calibration.control_order`, default first
    draw 1, independent of :func:`~fcgraph.fc.calibration.calibrate`'s draw 0); None: enough to
    test :data:`CONTROL_PAIRS` pairs, 1 to :data:`MAX_DRAWS` (:func:`n_draws`), since one
    draw's rate varies much from draw to draw where neurons are image-selective. ``rule``:
    other keywords of :func:`~fcgraph.fc.edges.significant_edges` (null, min_spikes, measure,
    candidates, backend, tile, ...), as the real pairs will use, not fdr or top_k; ``progress``
    counts post neurons over all the draws.

    Returns a dict: ``z`` (the threshold, >= the nominal z), ``nominal_z``, ``nominal_rate``,
    ``draws``, ``tested`` (over all draws), ``false_edges`` and ``control_rate`` (control pairs
    with z >= the threshold, and their share of the tested ones; <= the nominal rate; None
    when nothing is tested), ``normal_false_edges`` and ``normal_rate`` (the same at the
    nominal z: the pure normal rule's rate on these draws).
    """
    for key in ("fdr", "top_k", "sink", "dense"):
        if rule.get(key) is not None:
            raise FcgraphError(f"the control threshold applies to the z rule without {key}")
    once = count_tested(pre, post, min_spikes=rule.get("min_spikes", 10),
                        candidates=rule.get("candidates"), tile=rule.get("tile", DEFAULT_TILE))
    draws = n_draws(once) if draws is None else int(draws)
    if draws < 1:
        raise FcgraphError(f"draws must be >= 1, got {draws}")
    largest, tested, normal_false = control_tail(pre, post, T=T, z=z, seed=seed, draws=draws,
                                                 capacity=tail_capacity(z, once, draws),
                                                 first_draw=first_draw, **rule)
    return threshold_result(largest, tested, normal_false, z=z, draws=draws)


def tail_capacity(z: float, once: int, draws: int) -> int:
    """The :class:`TailCollector` capacity of a control threshold: floor(nominal rate x tested
    pairs of one draw (``once``) x ``draws``), the k of :func:`threshold_from_tail`."""
    return math.floor(float(normal_upper_tail(z)) * once * draws * (1 + 1e-12))


def control_tail(pre: Spikes, post: Spikes, *, T: int, z: float, seed: int, draws: int,
                 capacity: int, first_draw: int = THRESHOLD_DRAW,
                 **rule: Any) -> tuple[np.ndarray, int, int]:
    """The control draws of :func:`control_threshold`, before the threshold is set.

    Returns ``(largest, tested, normal_false)``: the kept control z values >= ``z`` (float64,
    largest first, the ``capacity + 1`` largest at least, :class:`TailCollector`), the pairs
    tested over the draws and those with z >= ``z``. With ``tiles`` in ``rule`` (post tiles
    a .. b-1 of :func:`~fcgraph.fc.edges.significant_edges`) they cover those tiles only: the
    union of the ``largest`` of a partition of the tiles, with the summed counts, gives the
    whole pair's threshold exactly (:func:`threshold_result`), as every value a unit dropped
    has ``capacity + 1`` larger ones in that unit.
    """
    tail = TailCollector(z, capacity)

    def collect(table: pa.Table) -> None:
        tail.add(table.column("z").to_numpy())

    progress = rule.pop("progress", None)
    tested = normal_false = 0
    for k, draw in enumerate(range(first_draw, first_draw + draws)):
        control, _ = control_trains(post, T=T, seed=seed, draw=draw, trials=rule.get("trials"))
        _, report = significant_edges(pre, control, T=T, z=z, seed=seed, sink=collect,
                                      progress=_over_draws(progress, k, draws), **rule)
        tested += int(report["tested"])
        normal_false += int(report["significant"])
    return tail.largest(), tested, normal_false


def threshold_result(largest: np.ndarray, tested: int, normal_false: int, *, z: float,
                     draws: int) -> dict[str, Any]:
    """:func:`control_threshold`'s dict from its control tail (:func:`control_tail`; the
    ``largest`` of several units may be concatenated in any order)."""
    nominal = float(normal_upper_tail(z))
    threshold, false_edges = threshold_from_tail(np.sort(np.asarray(largest, np.float64))[::-1],
                                                 tested, nominal, z)
    return {"z": threshold, "nominal_z": float(z), "nominal_rate": nominal, "draws": draws,
            "tested": tested, "false_edges": false_edges,
            "control_rate": _share(false_edges, tested), "normal_false_edges": normal_false,
            "normal_rate": _share(normal_false, tested)}


def _over_draws(progress: Callable[[int, int], None] | None, k: int,
                draws: int) -> Callable[[int, int], None] | None:
    """``progress(done, total)`` of draw k of ``draws`` as one count over all the draws."""
    if progress is None:
        return None
    return lambda done, total: progress(k * total + done, draws * total)


def _share(count: int, total: int) -> float | None:
    return count / total if total else None
