"""fcgraph's STTC, cofiring and Pearson (fcgraph.fc) against Elephant's on the spikes of a real
recording (the tiny model's), exported with fcgraph.record.interop.to_neo: STTC with dt = half a
bin (spikes at bin centres), cofiring and Pearson from Elephant's BinnedSpikeTrain.

Optional: skipped without elephant, unless FCGRAPH_REQUIRE_ELEPHANT=1 makes that a failure."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from fcgraph.fc import cofire, pearson, sttc
from fcgraph.record import open_recording
from fcgraph.record.interop import to_neo

PER_LAYER = 20  # neurons of each layer compared (all pairs between consecutive layers)


def _elephant():
    try:
        import elephant.conversion
        import elephant.spike_train_correlation
        import quantities
    except ImportError:
        if os.environ.get("FCGRAPH_REQUIRE_ELEPHANT"):
            raise
        pytest.skip("elephant is not installed (the dev extra); FCGRAPH_REQUIRE_ELEPHANT=1 requires it")
    return elephant, quantities


def _chosen(rec, condition, rng):
    """Per layer: the least and most active neurons (silent ones, ones firing in every bin), and
    random others among those that fire but not in every bin."""
    out = {}
    for layer in rec.layers:
        counts = rec.packed(condition, layer.name).spike_counts()
        order = np.argsort(counts, kind="stable")
        ends = np.concatenate([order[:3], order[-3:]])
        pool = np.setdiff1d(np.flatnonzero((counts > 0) & (counts < rec.L)), ends)
        rest = rng.choice(pool, min(pool.size, PER_LAYER - ends.size), replace=False)
        out[layer.name] = np.unique(np.concatenate([ends, rest]))
    return out


@pytest.mark.parametrize("bin_ms", [1.0, 0.1])
def test_sttc_cofire_and_pearson_equal_elephants(tiny_recording, bin_ms):
    elephant, pq = _elephant()
    rec = open_recording(tiny_recording)
    rng = np.random.default_rng(11)
    compared = undefined = 0
    for condition in rec.conditions:
        chosen = _chosen(rec, condition, rng)
        uids = [f"{layer}/{i}" for layer, idx in chosen.items() for i in idx]
        trains = {st.annotations["uid"].split("/", 1)[1]: st
                  for st in to_neo(rec, condition, neurons=uids, bin_ms=bin_ms).segments[0].spiketrains}
        for pre, post in sorted(rec.manifest.allowed_pairs()):
            a = rec.spikes(condition, pre)[chosen[pre]]
            b = rec.spikes(condition, post)[chosen[post]]
            ours_sttc, ours_cofire, ours_pearson = sttc(a, b), cofire(a, b), pearson(a, b)
            ta = [trains[f"{pre}/{i}"] for i in chosen[pre]]
            tb = [trains[f"{post}/{j}"] for j in chosen[post]]

            theirs = np.array([[elephant.spike_train_correlation.sttc(x, y, dt=bin_ms / 2 * pq.ms)
                                for y in tb] for x in ta])
            both = np.isfinite(ours_sttc)
            np.testing.assert_allclose(ours_sttc[both], theirs[both], rtol=0, atol=1e-12)
            # fcgraph leaves undefined (NaN) a silent train (Elephant too) and a zero denominator:
            # a train firing in every bin, which Elephant's 0/0 rule defines instead
            na, nb = a.sum(axis=1), b.sum(axis=1)
            silent = (na[:, None] == 0) | (nb[None, :] == 0)
            full = (na[:, None] == rec.L) | (nb[None, :] == rec.L)
            assert np.all(silent[~both] | full[~both])
            assert np.all(np.isnan(theirs[silent]))
            compared += int(both.sum())
            undefined += int((~both).sum())

            binned = elephant.conversion.BinnedSpikeTrain(
                ta + tb, bin_size=bin_ms * pq.ms, t_start=0 * pq.ms, t_stop=rec.L * bin_ms * pq.ms)
            dense = binned.to_bool_array()
            np.testing.assert_array_equal(dense[: len(ta)], a)
            np.testing.assert_array_equal(dense[len(ta):], b)
            counts = binned.to_array().astype(np.int64)
            np.testing.assert_array_equal(counts[: len(ta)] @ counts[len(ta):].T, ours_cofire)
            with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Elephant warns of silent trains (NaN rows)
                corr = elephant.spike_train_correlation.correlation_coefficient(binned, binary=True)
            theirs_p = corr[: len(ta), len(ta):]
            ok = np.isfinite(ours_pearson)
            np.testing.assert_allclose(ours_pearson[ok], theirs_p[ok], rtol=0, atol=1e-12)
            assert np.all(np.isnan(theirs_p[~ok]))
    assert compared > 500, (compared, undefined)
    print(f"{compared} pairs equal, {undefined} undefined in fcgraph")
