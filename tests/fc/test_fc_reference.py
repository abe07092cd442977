"""The plain references of tests/helpers/fc_reference.py, checked on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.helpers.fc_reference import ref_counts, ref_pearson, ref_sttc_pair


def test_reference_sttc_on_hand_computed_cases() -> None:
    x = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1], bool)
    y = np.array([0, 1, 0, 0, 0, 0, 0, 0, 0, 0], bool)
    # dt = 1: x tiles bins {0, 1, 8, 9} (TA = 0.4), y tiles {0, 1, 2} (TB = 0.3);
    # PA = 1/2 (x's spike at 0 is near y's at 1), PB = 1
    expected = 0.5 * ((0.5 - 0.3) / (1 - 0.5 * 0.3) + (1 - 0.4) / (1 - 1 * 0.4))
    assert ref_sttc_pair(x, y, 1) == pytest.approx(expected)
    assert ref_sttc_pair(x, y, 0) == pytest.approx(0.5 * ((0 - 0.1) + (0 - 0.2)))
    assert math.isnan(ref_sttc_pair(x, np.zeros(10, bool), 3))


def test_reference_counts_and_pearson() -> None:
    a = np.array([[1, 1, 0, 0]], bool)
    b = np.array([[1, 0, 1, 0], [1, 1, 1, 1]], bool)
    assert ref_counts(a, b).tolist() == [[1, 2]]
    r = ref_pearson(a, b)
    assert r[0, 0] == pytest.approx(0.0) and math.isnan(r[0, 1])
