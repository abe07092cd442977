"""One layer pair of ``fcgraph fc``: its inputs, its files and the entries of its summary.

Shared by the in-process run (:mod:`fcgraph.fc.run`) and the units of post tiles on a Dask
cluster (:mod:`fcgraph.fc.split`): the run folder's fc parts (:class:`FcParts`), a pair's
candidates (the receptive-field rule, described in :mod:`fcgraph.fc.run`), its edge table
written tile by tile, and its summary's ``threshold`` and ``calibration`` entries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fcgraph.fc.backend import Backend, get_backend
from fcgraph.fc.calibration import calibrate as calibrate_pair
from fcgraph.fc.settings import FcParams
from fcgraph.fc.stats import normal_upper_tail
from fcgraph.fc.threshold import control_threshold
from fcgraph.parts import part_key
from fcgraph.run_folder import RunFolder

if TYPE_CHECKING:
    import pyarrow as pa

    from fcgraph.contract import LayerInfo
    from fcgraph.record.reader import Recording


PLAN = "plan.json"


#: The format of a layer pair's part (in its key: parts of another format are not reused).
PART_FORMAT = "fcgraph.fc-part/1"


DONE = "done.json"


#: Counts of the per-pair report kept in the manifest and the summary.
COUNT_KEYS = ("pairs", "tested", "untested", "untested_pre", "untested_post", "zero_spread",
              "nonfinite", "negative_tail", "significant", "edges")


RF_KERNEL = 3


def kernel_footprint(pre: LayerInfo, post: LayerInfo, kernel: int = RF_KERNEL) -> np.ndarray | None:
    """The receptive-field rule's spatial footprint: bool (H1 W1, H2 W2), True where the pre
    position (y1 W1 + x1) lies under the ``kernel`` x ``kernel`` kernel of the post position
    (stride = the ratio of the spatial sizes); None unless both layers are conv layers whose
    sizes divide evenly. A neuron's position is its index modulo H W (channel-major rows)."""
    if len(pre.shape) != 3 or len(post.shape) != 3:
        return None
    _, h1, w1 = pre.shape
    _, h2, w2 = post.shape
    if h1 % h2 or w1 % w2 or h1 // h2 != w1 // w2:
        return None
    s, pad = h1 // h2, kernel // 2
    y1, x1 = np.divmod(np.arange(h1 * w1), w1)  # pre positions
    y2, x2 = np.divmod(np.arange(h2 * w2), w2)  # post positions
    dy = y1[:, None] - (s * y2[None, :] - pad)
    dx = x1[:, None] - (s * x2[None, :] - pad)
    return (dy >= 0) & (dy < kernel) & (dx >= 0) & (dx < kernel)


def receptive_field(pre: LayerInfo, post: LayerInfo,
                    kernel: int = RF_KERNEL) -> Callable[[int, int], np.ndarray] | None:
    """Candidate pairs of the receptive-field rule (module docstring) as a function
    ``(j0, j1) -> bool (n_pre, j1 - j0)`` for post neurons j0 .. j1-1, or None (all pairs)."""
    spatial = kernel_footprint(pre, post, kernel)
    if spatial is None:
        return None
    h2w2 = spatial.shape[1]
    pre_pos = np.arange(pre.n_neurons) % spatial.shape[0]

    def block(j0: int, j1: int) -> np.ndarray:
        post_pos = np.arange(j0, j1) % h2w2
        return spatial[pre_pos[:, None], post_pos[None, :]]

    return block


def _slug(condition: str) -> str:
    from fcgraph.contract import condition_slug

    return condition_slug(condition)


def json_round_trip(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with NumPy scalars as Python numbers (as a part stores it)."""
    return json.loads(json.dumps(data, default=json_number))


def json_number(value: Any) -> Any:
    """``json.dumps``' ``default``: a NumPy integer or float as a Python number."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class FcParts:
    """fc's parts inside a run folder (every other path is the :class:`RunFolder`'s)."""

    def __init__(self, root: Path) -> None:
        self.run = RunFolder(root)
        self.root = self.run.root
        self.parts = self.run.fc_parts
        self.plan = self.parts / PLAN

    def cond_dir(self, condition: str) -> Path:
        return self.parts / _slug(condition)

    def part(self, condition: str, k: int) -> tuple[Path, Path]:
        d = self.cond_dir(condition)
        return d / f"{k:03d}.parquet", d / f"{k:03d}.json"

    def unit_table(self, condition: str, k: int, first_tile: int) -> Path:
        """The edge table of a unit of layer pair k's post tiles (:mod:`fcgraph.fc.split`)."""
        return self.cond_dir(condition) / f"{k:03d}.t{first_tile:05d}.parquet"

    def remove_unit_tables(self, condition: str, k: int) -> None:
        """Remove layer pair k's unit tables (any tile ranges: those of an unfinished run too)."""
        for path in self.cond_dir(condition).glob(f"{k:03d}.t*.parquet"):
            path.unlink(missing_ok=True)

    def done(self, condition: str) -> Path:
        return self.cond_dir(condition) / DONE

    def edges_rel(self, condition: str) -> str:
        return self.run.relative(self.run.edges(condition))

    def dense_dir(self, condition: str) -> Path:
        return self.run.fc_dense / _slug(condition)


def pair_part_key(rec: Recording, params: FcParams, condition: str, pre: str, post: str) -> str:
    """The key of a layer pair's part (:mod:`fcgraph.parts`): fc's part format, the settings,
    the pair and its two spike files' hashes."""
    return part_key(PART_FORMAT, params.to_json(), condition, pre, post,
                    pair_spike_hashes(rec, condition, pre, post))


def pair_spike_hashes(rec: Recording, condition: str, pre: str, post: str) -> dict[str, str]:
    layers = rec.condition_info(condition)["layers"]
    return {"pre_sha256": layers[pre]["sha256"], "post_sha256": layers[post]["sha256"]}


def pair_inputs(rec: Recording, params: FcParams, condition: str, pre: str,
                post: str) -> tuple[Any, Any, Any, dict[str, Any]]:
    """A layer pair's packed spikes (pre, post), its candidates (None: all pairs) and the
    keywords of its rule (:meth:`FcParams.rule`)."""
    cand = receptive_field(rec.layer(pre), rec.layer(post)) \
        if params.candidates == "receptive-field" else None
    return (rec.packed(condition, pre), rec.packed(condition, post), cand,
            params.rule(rec.T, rec.trials))


def pair_head(params: FcParams, backend: Backend, condition: str, pre: str, post: str,
              cand: Any) -> dict[str, Any]:
    """The first fields of a layer pair's summary."""
    return {"condition": condition, "pre_layer": pre, "post_layer": post,
            "candidates": "receptive-field" if cand is not None else "all",
            "backend": backend.name, "backend_detail": backend.detail}


def write_edges(path: Path, pre: Any, post: Any, rule: dict[str, Any],
                **options: Any) -> dict[str, Any]:
    """Write the edges of :func:`~fcgraph.fc.edges.significant_edges` (``rule`` and
    ``options``: its keywords) to the Parquet table ``path`` atomically, a row group per post
    tile, and return its report."""
    import pyarrow.parquet as pq

    from fcgraph.fc.edges import significant_edges
    from fcgraph.io import atomic_write

    got: dict[str, Any] = {}

    def write(fh: Any) -> None:
        writer: pq.ParquetWriter | None = None

        def sink(table: pa.Table) -> None:
            nonlocal writer
            if writer is None:
                writer = pq.ParquetWriter(fh, table.schema)
            writer.write_table(table)

        _, got["report"] = significant_edges(pre, post, **rule, sink=sink, **options)
        assert writer is not None  # every tile calls the sink
        writer.close()

    atomic_write(path, write)
    return got["report"]


def worker_backend(backend: tuple[str, str]) -> Backend:
    """The backend of a Dask task from the client's (name, detail): a NumPy backend keeps the
    client's detail, so that the summaries are the same."""
    name, detail = backend
    be = get_backend(name, warn=False)
    if be.name == "numpy":
        be.detail = detail
    return be


def control_rule_keywords(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule's keywords for a control pass (no T, seed or z: the callers give them)."""
    return {k: v for k, v in rule.items() if k not in ("T", "seed", "z")}


def threshold_entry(params: FcParams, rule: dict[str, Any], pre: Any, post: Any,
                    **engine: Any) -> dict[str, Any]:
    """The manifest's ``threshold`` entry of a layer pair: the rule, the z threshold used and
    the nominal rate; for the control rule also the control's rate at that threshold and at
    the nominal z over its draws 1 .. control_draws
    (:func:`~fcgraph.fc.threshold.control_threshold`)."""
    nominal = float(normal_upper_tail(params.z))
    if params.threshold == "normal":
        return {"rule": "normal", "z": params.z, "nominal_z": params.z, "nominal_rate": nominal}
    got = control_threshold(pre, post, T=rule["T"], z=params.z, seed=params.seed,
                            draws=params.control_draws or None, **control_rule_keywords(rule),
                            **engine)
    return control_threshold_entry(params, got)


def control_threshold_entry(params: FcParams, got: dict[str, Any]) -> dict[str, Any]:
    """The ``threshold`` entry of the control rule from
    :func:`~fcgraph.fc.threshold.control_threshold`'s dict."""
    nominal = float(normal_upper_tail(params.z))
    return {"rule": "control", "z": got["z"], "nominal_z": params.z, "nominal_rate": nominal,
            "control_draws": got["draws"], "control_tested": got["tested"],
            "control_false_edges": got["false_edges"], "control_rate": got["control_rate"],
            "normal_rule_false_edges": got["normal_false_edges"],
            "normal_rule_rate": got["normal_rate"]}


def calibration_entry(params: FcParams, rule: dict[str, Any], pre: Any, post: Any,
                      **engine: Any) -> dict[str, Any]:
    """The manifest's ``calibration`` entry: the rule as applied (its z threshold, control or
    normal) rerun on control draw 0, independent of the draw a control threshold came from."""
    nominal = None if params.fdr is not None else float(normal_upper_tail(params.z))
    cal = calibrate_pair(pre, post, T=rule["T"], seed=params.seed, z=rule["z"],
                         nominal_rate=nominal, **control_rule_keywords(rule), **engine)
    return {"false_edges": int(cal["false_edges"]), "tested": int(cal["tested"]),
            "false_edge_rate": _finite(cal["false_edge_rate"]),
            "nominal_rate": cal["nominal_rate"], "ratio": _finite(cal["ratio"]),
            "draw": int(cal["draw"])}


def summed_calibration(params: FcParams, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``calibration`` entry of a layer pair from those of a partition of its post tiles
    (each :func:`calibration_entry` with ``tiles``): the counts summed, the rates recomputed."""
    false_edges, tested = (sum(p[key] for p in parts) for key in ("false_edges", "tested"))
    nominal = None if params.fdr is not None else float(normal_upper_tail(params.z))
    rate = false_edges / tested if tested else float("nan")
    return {"false_edges": false_edges, "tested": tested, "false_edge_rate": _finite(rate),
            "nominal_rate": nominal, "ratio": _finite(rate / nominal if nominal else None),
            "draw": parts[0]["draw"]}


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


