"""Hand a layer's exact-null features from one layer pair to the next.

In a chain of layer pairs (a -> b, b -> c, ...) layer b is the post layer of one pair and the
pre layer of the next, and the exact null needs the same autocorrelation residual features of
its neurons both times (the FFTs: about a seventh of a whole condition's time). A
:class:`FeatureRelay` passed to :func:`~fcgraph.fc.edges.significant_edges` keeps the post
layer's features as its tiles are computed and gives them to the next call whose pre layer is
the same layer of the same condition, tested neurons and null alike. It holds at most one
layer's features, and only when they fit :data:`~fcgraph.fc.exact.FEATURE_CACHE_BYTES`.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from fcgraph.fc.exact import ExactShiftNull, cacheable_features


def _null_key(null: ExactShiftNull) -> tuple[int, int, str, bool]:
    return null.L, null.T, null.over, null.include_zero_shift


@dataclass
class _Held:
    layer: Hashable
    null: tuple[int, int, str, bool]
    rows: np.ndarray  # the neurons' indices in their layer, in order
    res: np.ndarray  # (rows.size, n_features) float32, unweighted
    norms: np.ndarray  # (rows.size,) float64
    filled: int = 0
    done: bool = field(init=False, default=False)


class FeatureRelay:
    """Features of the last post layer, offered to the next layer pair (module doc)."""

    def __init__(self) -> None:
        self._held: _Held | None = None

    def take(self, layer: Hashable, null: ExactShiftNull,
             rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(res, norms)`` of ``layer``'s neurons ``rows`` (int indices, in order) under
        ``null`` when a complete set is held, else None; either way the relay is emptied."""
        held, self._held = self._held, None
        if (held is None or not held.done or held.layer != layer
                or held.null != _null_key(null) or not np.array_equal(held.rows, rows)):
            return None
        return held.res, held.norms

    def start(self, layer: Hashable, null: ExactShiftNull, rows: np.ndarray) -> None:
        """Get ready to keep the features of ``layer``'s neurons ``rows``, tile by tile (in
        that order, through :meth:`keep`); nothing is kept when they would not fit."""
        self._held = None
        if not cacheable_features(null, rows.size):
            return
        res = np.empty((rows.size, null.n_features), dtype=np.float32)
        self._held = _Held(layer, _null_key(null), np.array(rows), res, np.empty(rows.size))

    def keep(self, res: np.ndarray, norms: np.ndarray) -> None:
        """The next tile's unweighted residual features (n_tile, n_features) and norms."""
        held = self._held
        if held is None:
            return
        end = held.filled + res.shape[0]
        if end > held.rows.size or res.shape[1] != held.res.shape[1]:
            self._held = None  # not the tiles announced: keep nothing
            return
        held.res[held.filled:end] = res
        held.norms[held.filled:end] = norms
        held.filled = end
        held.done = end == held.rows.size
