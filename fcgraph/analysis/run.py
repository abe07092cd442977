"""``analyze_run``: the ensemble analyses of a whole recording, resumable, in bounded memory.

Reads the recording (``fcgraph.record``) and its edge tables through the manifest's ``fc``
section (``RunManifest.edge_files``), and writes beside them::

    RUN/analysis/analysis.json        every number, the five findings (see ``findings/``)
    RUN/analysis/neurons.parquet      one row per (condition, post-layer neuron analysed):
                                      NEURON_COLUMNS below; clean rows for every post neuron
                                      (group_size), fitted columns for the sampled ones
    RUN/analysis/figures/*.png|svg    see ``figures.py``
    RUN/analysis/.parts/<slug>/<k>.json   one per (condition, layer pair k), written atomically;
                                      a rerun with the same parameters and inputs skips them

For each consecutive layer pair (pre -> post), the 1FC group of every post neuron is its set of
clean in-edges. Up to ``max_neurons`` post neurons per layer (those with a group of at least
``min_group`` members and ``min_spikes`` clean spikes; a seeded random sample when there are
more) are analysed under every condition with their *clean* groups: k(t), the input-output
curve and its fits (bootstrap CIs under clean only), events and per-neuron MI, and the layer's
population read-out. Memory per pair: one (n_sampled, L) k matrix plus ``chunk`` unpacked pre
rows at a time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fcgraph.analysis.calibration import false_edge_rate
from fcgraph.analysis.config import AnalysisConfig
from fcgraph.analysis.groups import Groups, size_distribution
from fcgraph.analysis.pair import (
    CONDITION_READOUTS,
    NEURON_COLUMNS,
    READOUTS,
    analyse_pair,
    sample_neurons,
)
from fcgraph.contract import condition_slug
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.io import atomic_write, atomic_write_text, remove_stale_temps, sha256_file, writing_into
from fcgraph.parts import cached_part, part_key
from fcgraph.run_folder import RunFolder, layer_pairs

NETWORKS = "networks"  # parts of the control networks analysed with their own groups
REPLICATES = "replicates"  # parts of the replicate networks (other recordings)
CALIBRATION = "calibration"  # parts of the clean layer pairs' measured false-edge rates
FORMAT = "fcgraph.analysis"
FORMAT_VERSION = 2
ProgressFn = Callable[[str, int, int], None]
def _key(*parts: Any) -> str:
    """A part's key: its inputs and parameters, and the format (a part written by code of
    another format is recomputed)."""
    return part_key(FORMAT_VERSION, *parts)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if np.isfinite(value) else None
    return value


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(_jsonable(data), indent=1) + "\n")


def _check_inputs(rec: Any, conditions: list[str], edge_files: dict[str, Path]) -> None:
    """Refuse damaged inputs before anything is written: hash the spike files of
    ``conditions`` and validate the edge tables that the analysis reads."""
    from fcgraph.validate import validate_edge_file

    rec.verify_all(conditions)
    for condition in conditions:
        if condition in edge_files:
            validate_edge_file(edge_files[condition], rec.manifest, condition)


def _n_pairs(manifest: Any, condition: str, pre: str, post: str, key: str = "tested") -> int | None:
    value = manifest.fc_pair(condition, pre, post).get(key)
    return int(value) if value is not None else None


def analyze_run(recording: Path | str, config: AnalysisConfig | None = None, *,
                replicates: Sequence[Path | str] = (), progress: ProgressFn | None = None,
                restart: bool = False, figures: bool = True) -> dict[str, Any]:
    """Analyse a recording whose edges were computed (``fcgraph fc``); write and return the
    ``analysis.json`` content (see :mod:`fcgraph.analysis` for its layout).

    ``replicates``: recordings of other independently trained networks (same architecture,
    same images, their edges computed), analysed like the trained one with their own groups: a
    finding is supported only if it also holds in each of them. They are only read.
    ``config``: the analysis' parameters (default :class:`AnalysisConfig`).
    """
    from fcgraph.record import open_recording

    config = config or AnalysisConfig()
    rec = open_recording(recording, verify=False)
    if rec.trials > 1:  # its decoders and image resampling take each presentation as an image
        raise FcgraphError(f"{rec.path} holds {rec.trials} trials of each image: analyze takes a "
                           "recording of one trial (record the findings' conditions without "
                           "--trials; trials serve fcgraph fc --null trial)")
    reps = [open_recording(r, verify=False) for r in replicates]
    for rep in reps:
        _check_replicate(rec, rep)
    with writing_into(rec.path):
        return _analyze(rec, config, progress, restart, figures, reps)


def _check_replicate(rec: Any, rep: Any) -> None:
    """Refuse a replicate recording that is not the same images through the same layers."""
    def bad(why: str) -> BadArgument:
        return BadArgument("--replicate", f"{rep.path}: {why}")

    if rep.path.resolve() == rec.path.resolve():
        raise bad("is the recording itself")
    if [(la.name, la.n_neurons) for la in rep.layers] != [(la.name, la.n_neurons)
                                                          for la in rec.layers]:
        raise bad("other spiking layers than the recording's (another architecture)")
    if rep.T != rec.T or rep.n_images != rec.n_images \
            or not np.array_equal(np.asarray(rep.labels), np.asarray(rec.labels)):
        raise bad("other images (T, number or labels differ); record the same images")
    if "clean" not in rep.manifest.edge_files(rep.path):
        raise bad(f"no clean edges; run `fcgraph fc {rep.path}` first")
    rep.verify_all(["clean"])


def _analyze(rec: Any, config: AnalysisConfig, progress: ProgressFn | None, restart: bool,
             figures: bool, replicates: Sequence[Any] = ()) -> dict[str, Any]:
    """:func:`analyze_run` of an opened recording."""
    from fcgraph.analysis import findings as findings_mod

    t0 = time.perf_counter()
    root = rec.path
    edge_files = rec.manifest.edge_files(root)
    if "clean" not in edge_files:
        raise FcgraphError(f"{root}: no clean edge table in the manifest; run `fcgraph fc {root}` "
                           "first (the 1FC groups are the clean edges)")
    for path in edge_files.values():
        if not path.exists():
            raise FcgraphError(f"{path}: edge table listed in the manifest is missing")
    if "clean" not in rec.conditions:
        raise FcgraphError(f"{root}: no clean condition recorded")
    wanted = ["clean"] + [c for c in rec.conditions if c != "clean"
                          and (config.conditions is None or c in config.conditions)]
    if config.conditions:
        unknown = sorted(set(config.conditions) - set(rec.conditions))
        if unknown:
            raise BadArgument("--condition", f"no condition {', '.join(unknown)} in {root}; "
                                             f"conditions: {', '.join(rec.conditions)}")
    _check_inputs(rec, wanted, edge_files)
    run = RunFolder(root)
    out_dir = run.analysis
    remove_stale_temps(out_dir)
    parts = run.analysis_parts
    if restart and parts.exists():
        for p in sorted(parts.rglob("*.json")):
            p.unlink()
    pairs = layer_pairs(rec.layers)  # consecutive spiking layers, forward order
    controls = [c for c in wanted if findings_mod.condition_role(c) == "control"
                and c in edge_files]
    networks = {c: (rec, c, parts / NETWORKS / condition_slug(c)) for c in controls}
    networks.update({f"replicate:{r.run_id}": (r, "clean", parts / REPLICATES / r.run_id)
                     for r in replicates})
    total = len(pairs) * (len(wanted) + len(networks) + 1)  # + the false-edge rate
    done = 0
    if progress:
        progress("analysis", 0, total)
    # a part's key names its inputs by content, so finished parts survive a copy of the folder
    spike_hashes = {c: {la.name: rec.condition_info(c)["layers"][la.name]["sha256"]
                        for la in rec.layers} for c in wanted}
    edge_hashes = {c: sha256_file(edge_files[c]) for c in wanted if c in edge_files}
    layers_out, cond_out = [], {c: [] for c in wanted}
    networks_out: dict[str, list[dict[str, Any]]] = {name: [] for name in networks}
    neuron_frames = []
    for k_pair, (pre, post) in enumerate(pairs):
        post_info = rec.layer(post)
        groups = Groups.from_file(edge_files["clean"], pre, post, post_info.n_neurons)
        counts = rec.packed("clean", post).spike_counts()
        sampled = sample_neurons(groups.sizes, counts, config, post_info.order)
        clean_edges = (groups.pre, np.repeat(np.arange(post_info.n_neurons), groups.sizes))
        neuron_frames.append(pd.DataFrame({
            "condition": "clean", "layer": post, "idx": np.arange(post_info.n_neurons),
            "pre_layer": pre, "group_size": groups.sizes, "analysed": False}))
        for condition in wanted:
            is_clean = condition == "clean"
            key = _key(config.to_json(), condition, pre, post, spike_hashes[condition][pre],
                       spike_hashes[condition][post], spike_hashes["clean"][post],
                       edge_hashes["clean"], edge_hashes.get(condition))
            result = _cached_part(
                parts / condition_slug(condition) / f"{k_pair}.json", key,
                partial(analyse_pair, rec, condition, pre, post, groups, sampled, config,
                        clean_edges, None if is_clean else edge_files.get(condition),
                        _n_pairs(rec.manifest, condition, pre, post, "pairs"),
                        n_boot=config.n_boot if is_clean else 0,
                        readouts=READOUTS if is_clean else CONDITION_READOUTS))
            done += 1
            if progress:
                progress("analysis", done, total)
            neuron_frames.append(pd.DataFrame(result.pop("neurons"), columns=list(NEURON_COLUMNS)))
            if is_clean:
                layers_out.append(_network_layer(rec, "clean", pre, post, groups, result))
                cal = _cached_part(
                    parts / CALIBRATION / f"{k_pair}.json",
                    _key("false edges", pre, post, spike_hashes["clean"][pre],
                         spike_hashes["clean"][post], rec.manifest.fc.get("parameters"),
                         rec.manifest.fc_pair("clean", pre, post).get("threshold")),
                    partial(false_edge_rate, rec, pre, post))
                layers_out[-1].update(false_edge_rate=cal["false_edge_rate"], false_edges=cal)
                done += 1
                if progress:
                    progress("analysis", done, total)
            else:
                cond_out[condition].append(result)
        for name, (net_rec, condition, folder) in networks.items():
            # another network (a control, or a replicate: a second trained network) with its
            # own groups, analysed like the trained one
            own = Groups.from_file(net_rec.manifest.edge_files(net_rec.path)[condition], pre,
                                   post, post_info.n_neurons)
            own_sampled = sample_neurons(own.sizes, net_rec.packed(condition, post).spike_counts(),
                                         config, post_info.order)
            info = net_rec.condition_info(condition)["layers"]
            key = _key(config.to_json(), "own groups", condition, pre, post,
                       info[pre]["sha256"], info[post]["sha256"],
                       sha256_file(net_rec.manifest.edge_files(net_rec.path)[condition]))
            result = _cached_part(
                folder / f"{k_pair}.json", key,
                partial(analyse_pair, net_rec, condition, pre, post, own, own_sampled, config,
                        None, None, None))
            result.pop("neurons")
            done += 1
            if progress:
                progress("analysis", done, total)
            networks_out[name].append(_network_layer(net_rec, condition, pre, post, own, result))
    neurons = _merge_neurons(neuron_frames)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(run.analysis_neurons, lambda fh: neurons.to_parquet(fh, index=False))
    analysis = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "run_id": rec.run_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": config.to_json(),
        "provenance": _provenance(rec),
        "T": rec.T, "n_images": rec.n_images,
        "layer_sizes": {la.name: la.n_neurons for la in rec.layers},
        "n_classes": int(np.unique(rec.labels).size),
        "layers": layers_out,
        "conditions": {c: {"kind": c.split(":")[0], "role": findings_mod.condition_role(c),
                           "accuracy": _accuracy(rec, c), "layers": cond_out[c]}
                       for c in wanted if c != "clean"},
        "networks": {c: {"kind": c.split(":")[0], "accuracy": _accuracy(rec, c),
                         "layers": networks_out[c]} for c in controls},
        "replicates": {f"replicate:{r.run_id}": {
            "recording": str(r.path), "run_id": r.run_id, "accuracy": _accuracy(r, "clean"),
            "layers": networks_out[f"replicate:{r.run_id}"]} for r in replicates},
        "clean_accuracy": _accuracy(rec, "clean"),
        "neurons": run.relative(run.analysis_neurons),
    }
    analysis["findings"] = findings_mod.evaluate(analysis, rec.manifest)
    analysis["seconds"] = round(time.perf_counter() - t0, 3)
    if figures:
        from fcgraph.analysis.figures import make_figures
        analysis["figures"] = make_figures(analysis, run.figures, run.analysis_neurons)
    else:  # keep the figures of an earlier run, if any
        analysis["figures"] = sorted(f"figures/{p.name}" for p in run.figures.glob("*.*"))
    _write_json(run.analysis_json, analysis)
    return _jsonable(analysis)


def _cached_part(part: Path, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The part at ``part`` when its key matches, else ``compute()`` saved there
    (:func:`fcgraph.parts.cached_part`, the rule every stage's parts follow)."""
    return cached_part(part, key, lambda: _jsonable(compute()), checkpoint="analyze.part")


def _network_layer(rec: Any, condition: str, pre: str, post: str, groups: Groups,
                   result: dict[str, Any]) -> dict[str, Any]:
    """A network's layer-pair row: its own groups' edges, tested pairs, false-edge rate, group
    sizes and the pair's analysis ``result``."""
    info = rec.layer(post)
    return {"pre_layer": pre, "post_layer": post, "order": info.order,
            "n_neurons": info.n_neurons, "clean_edges": groups.n_edges,
            "tested_pairs": _n_pairs(rec.manifest, condition, pre, post),
            "false_edge_rate": _false_rate(rec.manifest, condition, pre, post),
            "group_sizes": size_distribution(groups.sizes), **result}


def _merge_neurons(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Clean rows for every post neuron (group_size) updated with the analysed rows."""
    df = pd.concat([f for f in frames if len(f)], ignore_index=True)
    for col in NEURON_COLUMNS:
        if col not in df:
            df[col] = np.nan
    df = df[list(NEURON_COLUMNS)]
    df = df.drop_duplicates(["condition", "layer", "idx"], keep="last")
    df["analysed"] = df["analysed"].astype(bool)
    df["threshold_linear"] = df["threshold_linear"].fillna(False).astype(bool)
    for col in ("idx", "group_size"):
        df[col] = df[col].astype(np.int64)
    for col in NEURON_COLUMNS:
        if col not in ("condition", "layer", "pre_layer", "idx", "group_size", "analysed",
                       "threshold_linear"):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df.sort_values(["condition", "layer", "idx"]).reset_index(drop=True)


def _false_rate(manifest: Any, condition: str, pre: str, post: str) -> float | None:
    row = manifest.fc_pair(condition, pre, post)
    rate = (row.get("calibration") or {}).get("false_edge_rate", row.get("false_edge_rate"))
    return float(rate) if rate is not None else None


def _accuracy(rec: Any, condition: str) -> float | None:
    try:
        acc = rec.condition_info(condition).get("accuracy")
    except FcgraphError:
        return None
    return float(acc) if acc is not None else None


def _provenance(rec: Any) -> dict[str, Any]:
    from fcgraph import __version__

    prov = dict(rec.manifest.provenance)
    return {"recording": str(rec.path), "recording_provenance": prov,
            "fc_parameters": rec.manifest.fc.get("parameters", {}), "fcgraph": __version__,
            "conditions": rec.conditions, "layers": rec.layer_names}


def load_analysis(recording: Path | str) -> dict[str, Any]:
    """The ``analysis.json`` of a recording (FcgraphError when ``fcgraph analyze`` has not run)."""
    if not Path(recording).is_dir():
        raise BadArgument(str(recording), "recording folder does not exist")
    path = RunFolder(recording).analysis_json
    if not path.exists():
        raise FcgraphError(f"{path}: missing; run `fcgraph analyze {recording}` first")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise FcgraphError(f"{path}: not valid JSON ({exc})") from None
