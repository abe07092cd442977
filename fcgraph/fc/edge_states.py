"""What becomes of every significant edge under every other condition of a run, from its files.

For an edge (pre, post) that is significant under condition A, its *state* under condition B:

- **kept**: (pre, post) is significant under B too;
- **silenced**: pre or post has fewer than ``min_spikes`` spikes under B, so B never tested it;
- **weakened**: both neurons were tested under B and the pair is not significant there.

*Lost* is weakened + silenced. An edge of B whose state under A is not kept is *gained* (with
A as the baseline), so ``gained(A -> B) = edges(B) - kept(A -> B)``. Every count is over all of
a condition's significant edges, whatever subset of them a graph holds. The states are exact
when fc kept every significant edge (no ``--top-k`` at fc time); otherwise ``exact`` is false.

Files, beside the edge tables they derive from (rewritten only when an input changes)::

    fc/states/<slug>.parquet   row-aligned with fc/edges/<slug>.parquet: one int8 column per
                               other condition (named by it), STATE_CODES
    fc/states/counts.parquet   one row per (baseline, condition, layer pair): COUNT_COLUMNS
    fc/states/degrees.parquet, fc/states/pairs.parquet, fc/states/losses.parquet
                               per-neuron degrees and per-layer-pair totals of every condition,
                               and each neuron's strongest baseline edges lost under each other
                               condition (the baseline: the run's first condition)
                               (:mod:`fcgraph.fc.edge_summaries`)

A neuron table without a ``condition`` column gives one spike count per neuron, taken to hold
under every condition; a manifest without ``min_spikes`` counts every neuron as tested.
"""

from __future__ import annotations

import errno
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fcgraph.contract import RunManifest, condition_slug, read_manifest
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.execution import ProgressFn
from fcgraph.fc.edge_summaries import (
    DEGREES_FILE,
    LOSS_COLUMNS,
    LOSSES_FILE,
    PAIRS_FILE,
    summarize_condition,
)
from fcgraph.io import atomic_write, sha256_file
from fcgraph.run_folder import RunFolder

#: State of a baseline edge under another condition, as stored in the states files.
STATE_CODES = {"kept": 0, "weakened": 1, "silenced": 2}
COUNTS_FILE = "counts.parquet"
#: Columns of ``counts.parquet`` and of :func:`edge_state_counts`.
COUNT_COLUMNS = ["baseline", "condition", "pre_layer", "post_layer", "baseline_edges",
                 "condition_edges", "kept", "weakened", "silenced", "lost", "gained",
                 "lost_fraction", "jaccard", "exact"]
_KEY = b"fcgraph.states_key"
_IDX_BITS = 24  # a neuron index below 2**24 (16.7 M neurons per layer)
_ORDER_BITS = 7


@dataclass(frozen=True)
class EdgeStates:
    """The states files of a run folder: ``key`` names the inputs they were computed from."""

    folder: Path
    key: str
    exact: bool

    def codes(self, condition: str) -> dict[str, np.ndarray]:
        """Other condition -> int8 (n_edges,) STATE_CODES of ``condition``'s edges, in the edge
        table's row order."""
        table = pq.read_table(self.folder / f"{condition_slug(condition)}.parquet")
        return {name: table.column(name).to_numpy() for name in table.column_names if name != "_"}

    def counts(self) -> pd.DataFrame:
        """Every (baseline, condition, layer pair) row of ``counts.parquet`` (COUNT_COLUMNS)."""
        return pd.read_parquet(self.folder / COUNTS_FILE)

    def degrees(self) -> pd.DataFrame:
        """Per (condition, layer, idx) of a neuron with edges: in/out degree, sum and max z
        (:data:`fcgraph.fc.edge_summaries.DEGREE_COLUMNS`)."""
        return pd.read_parquet(self.folder / DEGREES_FILE)

    def pairs(self) -> pd.DataFrame:
        """Per (condition, layer pair): edges, connected neurons, mean z and value
        (:data:`fcgraph.fc.edge_summaries.PAIR_COLUMNS`)."""
        return pd.read_parquet(self.folder / PAIRS_FILE)

    def losses(self) -> pd.DataFrame:
        """Per (condition, layer, idx): the largest z of the neuron's in- / out-edges of the
        run's first condition lost under the condition
        (:data:`fcgraph.fc.edge_summaries.LOSS_COLUMNS`)."""
        return pd.read_parquet(self.folder / LOSSES_FILE)


def _min_spikes(manifest: RunManifest) -> int:
    return int(manifest.fc.get("parameters", {}).get("min_spikes") or 0)


#: Bumped whenever the states files gain or change content: a graph loaded from older files
#: then sees a new key and is rewritten.
STATES_FORMAT = 2


def _inputs_key(root: Path, manifest: RunManifest) -> str:
    """SHA-256 over the states format, the edge tables, the neuron table and the testing rule."""
    files = manifest.edge_files(root)
    neurons = manifest.fc.get("neurons")
    parts = {"format": STATES_FORMAT, "edges": {c: sha256_file(p) for c, p in sorted(files.items())},
             "neurons": sha256_file(root / neurons) if neurons else None,
             "min_spikes": _min_spikes(manifest),
             "top_k": manifest.fc.get("parameters", {}).get("top_k"),
             "layers": [[la.name, la.order, la.n_neurons] for la in manifest.layers]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _offsets(manifest: RunManifest) -> dict[str, int]:
    """Layer -> offset of its neurons in one flat index over all layers."""
    out, total = {}, 0
    for layer in manifest.layers:
        out[layer.name] = total
        total += layer.n_neurons
    return out


def tested_neurons(root: Path, manifest: RunManifest) -> dict[str, np.ndarray]:
    """Condition -> bool (all neurons,) over the layers in order (a layer's neurons by idx):
    whether fc tested the neuron under that condition (spike_count >= min_spikes)."""
    offsets = _offsets(manifest)
    total = sum(la.n_neurons for la in manifest.layers)
    names = list(manifest.edge_files(root))
    floor = _min_spikes(manifest)
    rel = manifest.fc.get("neurons")
    if not rel or floor == 0:
        return {c: np.ones(total, dtype=bool) for c in names}
    table = pq.read_table(root / rel, columns=[c for c in ("layer", "idx", "spike_count",
                                                           "condition")
                                               if c in pq.read_schema(root / rel).names])
    per = {}
    for condition in names:
        part = table
        if "condition" in table.column_names:
            part = table.filter(pc.equal(table.column("condition"), condition))
            if part.num_rows == 0:
                raise FcgraphError(f"{root / rel}: no spike counts for condition {condition!r}; "
                                   "rerun `fcgraph fc`")
        tested = np.zeros(total, dtype=bool)
        layer = part.column("layer").to_pylist()
        idx = part.column("idx").to_numpy()
        flat = np.fromiter((offsets[name] for name in layer), np.int64, len(layer)) + idx
        tested[flat] = part.column("spike_count").to_numpy() >= floor
        per[condition] = tested
    return per


def _edge_keys(path: Path, manifest: RunManifest) -> np.ndarray:
    """int64 (n_edges,) key per row, in file order: pre order, post order, pre idx, post idx."""
    orders = {la.name: la.order for la in manifest.layers}
    largest = max(la.n_neurons for la in manifest.layers)
    if max(orders.values()) >= 1 << _ORDER_BITS or largest > 1 << _IDX_BITS:
        raise FcgraphError("edge states need layer orders < 128 and layers under 2**24 neurons")
    pf = pq.ParquetFile(path)
    keys = np.empty(pf.metadata.num_rows, dtype=np.int64)
    at = 0
    cols = ["pre_layer", "pre_idx", "post_layer", "post_idx"]
    for batch in pf.iter_batches(batch_size=1 << 20, columns=cols):
        parts = []
        for side in ("pre", "post"):
            enc = pc.dictionary_encode(batch.column(f"{side}_layer"))
            lut = np.array([orders[n] for n in enc.dictionary.to_pylist()], dtype=np.int64)
            parts.append(lut[enc.indices.to_numpy()])
        pre_o, post_o = parts
        n = batch.num_rows
        keys[at:at + n] = (((pre_o << _ORDER_BITS | post_o) << _IDX_BITS
                            | batch.column("pre_idx").to_numpy()) << _IDX_BITS
                           | batch.column("post_idx").to_numpy())
        at += n
    return keys


def _decode(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    mask = (1 << _IDX_BITS) - 1
    post_idx, pre_idx = keys & mask, (keys >> _IDX_BITS) & mask
    pair = keys >> (2 * _IDX_BITS)
    return pair >> _ORDER_BITS, pair & ((1 << _ORDER_BITS) - 1), pre_idx, post_idx


def _states_under(keys: np.ndarray, other_sorted: np.ndarray, tested: np.ndarray,
                  flat_offset: np.ndarray) -> np.ndarray:
    """STATE_CODES of the edges ``keys`` under a condition with sorted keys ``other_sorted``
    and tested neurons ``tested`` (flat index; ``flat_offset[order]`` = a layer's offset)."""
    pos = np.searchsorted(other_sorted, keys)
    pos[pos == other_sorted.size] = 0
    kept = other_sorted[pos] == keys if other_sorted.size else np.zeros(keys.size, bool)
    pre_o, post_o, pre_idx, post_idx = _decode(keys)
    both = tested[flat_offset[pre_o] + pre_idx] & tested[flat_offset[post_o] + post_idx]
    return np.where(kept, STATE_CODES["kept"],
                    np.where(both, STATE_CODES["weakened"], STATE_CODES["silenced"])).astype(np.int8)


def _count_rows(manifest: RunManifest, baseline: str, condition: str, keys: np.ndarray,
                codes: np.ndarray, other_keys: np.ndarray, exact: bool) -> list[dict]:
    orders = {la.name: la.order for la in manifest.layers}
    pairs = sorted(manifest.allowed_pairs(), key=lambda p: (orders[p[0]], orders[p[1]]))
    width = 1 << _ORDER_BITS
    pair_of = keys >> (2 * _IDX_BITS)
    by_state = np.bincount(pair_of * 3 + codes, minlength=width * width * 3).reshape(-1, 3)
    other = np.bincount(other_keys >> (2 * _IDX_BITS), minlength=width * width)
    rows = []
    for pre, post in pairs:
        p = orders[pre] * width + orders[post]
        kept, weakened, silenced = (int(v) for v in by_state[p])
        base, cond = kept + weakened + silenced, int(other[p])
        lost, gained = weakened + silenced, cond - kept
        union = base + gained
        rows.append({"baseline": baseline, "condition": condition, "pre_layer": pre,
                     "post_layer": post, "baseline_edges": base, "condition_edges": cond,
                     "kept": kept, "weakened": weakened, "silenced": silenced, "lost": lost,
                     "gained": gained, "lost_fraction": lost / base if base else None,
                     "jaccard": kept / union if union else None, "exact": exact})
    return rows


def _write_parquet(path: Path, table: pa.Table, key: str) -> None:
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _KEY: key.encode()})
    atomic_write(path, lambda fh: pq.write_table(table, fh))


def _stored_key(path: Path) -> str | None:
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return None
    value = meta.get(_KEY)
    return value.decode() if value else None


def ensure_edge_states(root: Path | str, manifest: RunManifest | None = None, *,
                       progress: ProgressFn | None = None) -> EdgeStates:
    """The run's states files, computed first when missing or older than their inputs.

    Parameters
    ----------
    root : run folder with fc output (``manifest.json`` listing ``fc.edges``).
    manifest : its parsed manifest (read when None).
    progress : called as ``progress("edge states", done, total)`` per condition.

    Returns
    -------
    EdgeStates
        Where the files are, the inputs' key and whether the states are exact.

    Memory holds every condition's int64 edge keys (8 bytes per edge) plus one condition's
    working arrays; the files are written atomically, the counts last, so a killed run leaves
    no counts that disagree with the per-edge files (a run is current when every file carries
    the inputs' key).
    """
    root = Path(root)
    manifest = manifest or read_manifest(root)
    files = manifest.edge_files(root)
    if not files:
        raise FcgraphError(f"{root}: the manifest lists no edge tables; run `fcgraph fc` first")
    key = _inputs_key(root, manifest)
    exact = manifest.fc.get("parameters", {}).get("top_k") is None
    folder = RunFolder(root).fc_states
    summaries = (DEGREES_FILE, PAIRS_FILE, LOSSES_FILE, COUNTS_FILE)
    if all(_stored_key(folder / name) == key for name in summaries):
        return EdgeStates(folder, key, exact)
    try:
        _compute(root, manifest, folder, key, exact, progress)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        # a read-only run folder (a shared or archived copy): compute beside, in a temp folder
        folder = Path(tempfile.mkdtemp(prefix="fcgraph-states-"))
        _compute(root, manifest, folder, key, exact, progress)
    return EdgeStates(folder, key, exact)


def _compute(root: Path, manifest: RunManifest, folder: Path, key: str, exact: bool,
             progress: ProgressFn | None) -> None:
    files = manifest.edge_files(root)
    tested = tested_neurons(root, manifest)
    offsets = _offsets(manifest)
    flat_offset = np.zeros(1 << _ORDER_BITS, dtype=np.int64)
    for la in manifest.layers:
        flat_offset[la.order] = offsets[la.name]
    keys = {c: _edge_keys(p, manifest) for c, p in files.items()}
    sorted_keys = {c: np.sort(k) for c, k in keys.items()}
    rows: list[dict] = []
    summaries = []  # per condition: degrees, pairs, losses (the first condition's only)
    for n, (baseline, own) in enumerate(keys.items()):
        columns = {}
        lost = {}
        for condition in keys:
            codes = (np.zeros(own.size, np.int8) if condition == baseline else
                     _states_under(own, sorted_keys[condition], tested[condition], flat_offset))
            if condition != baseline:
                columns[condition] = pa.array(codes, pa.int8())
                if n == 0:
                    lost[condition] = codes != STATE_CODES["kept"]
            rows += _count_rows(manifest, baseline, condition, own, codes, keys[condition], exact)
        summaries.append(summarize_condition(files[baseline], manifest, baseline,
                                             lost if n == 0 else None))
        del lost
        _write_parquet(folder / f"{condition_slug(baseline)}.parquet",
                       pa.table(columns) if columns else pa.table({"_": pa.nulls(own.size,
                                                                                  pa.int8())}),
                       key)
        if progress:
            progress("edge states", n + 1, len(keys))
    for name, part in ((DEGREES_FILE, 0), (PAIRS_FILE, 1)):
        _write_parquet(folder / name, pa.Table.from_pandas(
            pd.concat([s[part] for s in summaries], ignore_index=True), preserve_index=False),
            key)
    _write_parquet(folder / LOSSES_FILE, pa.Table.from_pandas(
        summaries[0][2] if summaries else pd.DataFrame(columns=LOSS_COLUMNS),
        preserve_index=False), key)
    _write_parquet(folder / COUNTS_FILE, pa.Table.from_pylist(rows, schema=_COUNTS_SCHEMA), key)


_COUNTS_SCHEMA = pa.schema(
    [(c, pa.string()) for c in COUNT_COLUMNS[:4]]
    + [(c, pa.int64()) for c in COUNT_COLUMNS[4:11]]
    + [("lost_fraction", pa.float64()), ("jaccard", pa.float64()), ("exact", pa.bool_())])


def edge_state_counts(run_dir: Path | str, condition: str, baseline: str = "clean") -> pd.DataFrame:
    """Exact edge loss from a run folder's files: per layer pair, how ``baseline``'s edges fare
    under ``condition``.

    Parameters
    ----------
    run_dir : run folder with fc output.
    condition : the perturbed condition, e.g. ``uniform:0.1``.
    baseline : the reference condition.

    Returns
    -------
    pandas.DataFrame
        One row per layer pair an edge may join (in layer order), COUNT_COLUMNS: edge counts
        of both conditions, kept / weakened / silenced / lost (weakened + silenced) / gained,
        lost_fraction = lost / baseline_edges and jaccard = kept / (baseline_edges + gained)
        (None when the denominator is 0), and whether the counts are exact.
    """
    root = Path(run_dir)
    manifest = read_manifest(root)
    known = list(manifest.edge_files(root))
    for flag, name in (("--condition", condition), ("--baseline", baseline)):
        if name not in known:
            raise BadArgument(flag, f"run {manifest.run_id!r} has no fc edges for {name!r} "
                                    f"(conditions: {', '.join(known)})")
    counts = ensure_edge_states(root, manifest).counts()
    rows = counts[(counts.baseline == baseline) & (counts.condition == condition)]
    return rows.reset_index(drop=True)[COUNT_COLUMNS]
