"""A z threshold set from the negative control, so that the false-edge rate is the nominal one.

The z of a cofiring count is not normal under the null: with few images the whole-image shift
distribution of a sparse, bursty pair is skewed, and the share of independent pairs with
z >= 3 is often 2-5x the normal tail 0.00135. The *control* rule keeps the nominal rate
alpha = P(Z >= z) (z: the user's ``--z``) and sets the threshold from the image-reordered
control of the same layer pair (:mod:`fcgraph.fc.calibration`, draw 1): of the ``tested``
control pairs, at most k = floor(alpha x tested) may reach the threshold. With the control's
z values v_1 >= v_2 >= ..., the threshold is the midpoint of v_k and v_(k+1) (just above
v_1 when k = 0), never below z itself; the real pairs are then edges when their z reaches it.

Memory stays bounded: only control z values >= z are kept (the threshold is never below z),
and of those at most the 2 (K + 1) largest, K = floor(alpha x n_pre x n_post) >= k, so the
collection is exact at the quantile while it holds at most a small multiple of the edges a
nominal rule would find.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from fcgraph.errors import FcgraphError
from fcgraph.fc.calibration import control_trains
from fcgraph.fc.edges import significant_edges
from fcgraph.fc.spikes import Spikes, as_source
from fcgraph.fc.stats import normal_upper_tail

if TYPE_CHECKING:
    import pyarrow as pa

#: Threshold rules of fc: set from the control (default), or the normal tail of z.
THRESHOLDS = ("control", "normal")
#: The control draw a control threshold is set from (calibration measures draw 0).
THRESHOLD_DRAW = 1


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


def control_threshold(pre: Spikes, post: Spikes, *, T: int, z: float = 3.0, seed: int = 0,
                      draw: int = THRESHOLD_DRAW, **rule: Any) -> dict[str, Any]:
    """The z threshold at which the image-reordered control's false-edge rate is the nominal one.

    ``pre`` (n_pre, L), ``post`` (n_post, L): boolean trains or :class:`SpikeMatrix`, L = T x
    n_images bins. ``z``: the nominal threshold; the nominal rate is its one-sided normal tail
    (0.00135 at z = 3). ``draw``: the control draw (:func:`fcgraph.fc.calibration.control_order`;
    default 1, independent of :func:`~fcgraph.fc.calibration.calibrate`'s draw 0). ``rule``:
    other keywords of :func:`~fcgraph.fc.edges.significant_edges` (null, min_spikes, measure,
    candidates, backend, tile, progress, ...), as the real pairs will use; not fdr or top_k.

    Returns a dict: ``z`` (the threshold, >= the nominal z), ``nominal_z``, ``nominal_rate``,
    ``false_edges`` and ``control_rate`` (control pairs with z >= the threshold, and their share
    of the tested ones; <= the nominal rate), ``tested``, ``normal_false_edges`` and
    ``normal_rate`` (the same at the nominal z: the pure normal rule's rate on this draw),
    ``draw``.
    """
    for key in ("fdr", "top_k", "sink", "dense"):
        if rule.get(key) is not None:
            raise FcgraphError(f"the control threshold applies to the z rule without {key}")
    nominal = float(normal_upper_tail(z))
    pairs = as_source(pre, "pre").n_neurons * as_source(post, "post").n_neurons
    tail = TailCollector(z, math.floor(nominal * pairs * (1 + 1e-12)))

    def collect(table: pa.Table) -> None:
        tail.add(table.column("z").to_numpy())

    control, _ = control_trains(post, T=T, seed=seed, draw=draw)
    _, report = significant_edges(pre, control, T=T, z=z, seed=seed, sink=collect, **rule)
    tested = int(report["tested"])
    threshold, false_edges = threshold_from_tail(tail.largest(), tested, nominal, z)
    return {"z": threshold, "nominal_z": float(z), "nominal_rate": nominal,
            "false_edges": false_edges, "control_rate": _share(false_edges, tested),
            "tested": tested, "normal_false_edges": int(report["significant"]),
            "normal_rate": _share(report["significant"], tested), "draw": draw}


def _share(count: int, total: int) -> float | None:
    return count / total if total else None
