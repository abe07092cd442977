"""Hand a layer's exact-null features from one layer pair to the next.

In a chain of layer pairs (a -> b, b -> c, ...) layer b is the post layer of one pair and the
pre layer of the next, and the exact null needs the same autocorrelation residual features of
its neurons both times (the FFTs: about a seventh of a whole condition's time). A
:class:`FeatureRelay` passed to :func:`~fcgraph.fc.edges.significant_edges` keeps the post
layer's features as its tiles are computed and gives them to the next call whose pre layer is
the same layer of the same condition, tested neurons and null alike. Only features that fit
:data:`~fcgraph.fc.exact.FEATURE_CACHE_BYTES` are kept.

Where the kept features live: a :class:`FeatureStore`, a thread-safe store of the finished
features of at most ``layers`` layers (the least recently kept go first). In-process, a run's
relay has its own store of one layer. On a Dask worker every layer pair's task gets a relay on
the process's store (:func:`worker_store`, :data:`WORKER_RELAY_LAYERS` layers), its layers
keyed also by the SHA-256 of their spike file and the backend (``scope``), so that a worker
hands features on between the tasks it runs and never from a changed file.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from fcgraph.fc.exact import ExactShiftNull, cacheable_features

#: Layers whose finished features a Dask worker process keeps between its tasks (each at most
#: :data:`~fcgraph.fc.exact.FEATURE_CACHE_BYTES`).
WORKER_RELAY_LAYERS = 2


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


class FeatureStore:
    """The finished features of at most ``layers`` layers, by key; thread-safe (module doc).

    ``hits`` and ``misses`` count the :meth:`take` calls that got features and those that did
    not; ``kept`` the layers put in.
    """

    def __init__(self, layers: int = 1) -> None:
        self.layers = layers
        self._held: OrderedDict[Hashable, _Held] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = self.kept = 0

    def take(self, key: Hashable, null: ExactShiftNull,
             rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(res, norms)`` held under ``key`` when they are of ``null`` and the neurons
        ``rows``, else None; either way nothing stays held under ``key`` (the features are
        handed over once: the taker weights them in place)."""
        with self._lock:
            held = self._held.pop(key, None)
            ok = (held is not None and held.null == _null_key(null)
                  and np.array_equal(held.rows, rows))
            if ok:
                self.hits += 1
            else:
                self.misses += 1
        return (held.res, held.norms) if ok and held is not None else None

    def make_room(self) -> None:
        """Drop the oldest layers until one more fits (before a layer is filled)."""
        with self._lock:
            while self._held and len(self._held) >= self.layers:
                self._held.popitem(last=False)

    def put(self, held: _Held) -> None:
        """Keep a finished layer (the oldest go beyond ``layers``)."""
        with self._lock:
            self._held.pop(held.layer, None)
            self._held[held.layer] = held
            self.kept += 1
            while len(self._held) > self.layers:
                self._held.popitem(last=False)

    def stats(self) -> dict[str, int]:
        """``hits``, ``misses``, ``kept`` and ``held`` (the layers held now)."""
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "kept": self.kept,
                    "held": len(self._held)}


_WORKER_STORE: FeatureStore | None = None
_WORKER_LOCK = threading.Lock()


def worker_store() -> FeatureStore:
    """This process's store (of :data:`WORKER_RELAY_LAYERS` layers), shared by every fc task a
    Dask worker process runs, whatever its thread."""
    global _WORKER_STORE
    with _WORKER_LOCK:
        if _WORKER_STORE is None:
            _WORKER_STORE = FeatureStore(WORKER_RELAY_LAYERS)
        return _WORKER_STORE


class FeatureRelay:
    """Features of the last post layer, offered to the next layer pair (module doc).

    ``store``: where finished features are kept (default: a new store of one layer);
    ``scope``: maps the layer keys of :func:`~fcgraph.fc.edges.significant_edges`
    (``(condition, layer)``) to the store's keys (default: the same). ``taken`` counts the
    layers whose features this relay got from the store.
    """

    def __init__(self, store: FeatureStore | None = None,
                 scope: Callable[[Hashable], Hashable] | None = None) -> None:
        self.store = store if store is not None else FeatureStore()
        self._scope = scope if scope is not None else (lambda layer: layer)
        self._filling: _Held | None = None
        self.taken = 0

    def take(self, layer: Hashable, null: ExactShiftNull,
             rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(res, norms)`` of ``layer``'s neurons ``rows`` (int indices, in order) under
        ``null`` when a complete set is held, else None; either way they are held no more."""
        got = self.store.take(self._scope(layer), null, rows)
        self.taken += got is not None
        return got

    def start(self, layer: Hashable, null: ExactShiftNull, rows: np.ndarray) -> None:
        """Get ready to keep the features of ``layer``'s neurons ``rows``, tile by tile (in
        that order, through :meth:`keep`); nothing is kept when they would not fit."""
        self._filling = None
        self.store.make_room()
        if not cacheable_features(null, rows.size):
            return
        res = np.empty((rows.size, null.n_features), dtype=np.float32)
        self._filling = _Held(self._scope(layer), _null_key(null), np.array(rows), res,
                              np.empty(rows.size))

    def keep(self, res: np.ndarray, norms: np.ndarray) -> None:
        """The next tile's unweighted residual features (n_tile, n_features) and norms."""
        held = self._filling
        if held is None:
            return
        end = held.filled + res.shape[0]
        if end > held.rows.size or res.shape[1] != held.res.shape[1]:
            self._filling = None  # not the tiles announced: keep nothing
            return
        held.res[held.filled:end] = res
        held.norms[held.filled:end] = norms
        held.filled = end
        if end == held.rows.size:
            self._filling = None
            self.store.put(held)
