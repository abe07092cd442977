"""``cupy.random`` of the CPU stand-in (NumPy's generator; not CuPy's streams)."""

from __future__ import annotations

from typing import Any

import numpy as np

import cupy


class RandomState:
    def __init__(self, seed: int | None = None) -> None:
        self._rs = np.random.RandomState(seed)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None,
                dtype: Any = float) -> cupy.ndarray:
        return cupy.ndarray(np.asarray(self._rs.uniform(low, high, size)).astype(dtype))

    def random_sample(self, size: Any = None, dtype: Any = float) -> cupy.ndarray:
        return self.uniform(size=size, dtype=dtype)
