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
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fcgraph.analysis.blocks import condition_summary, network_summary
from fcgraph.analysis.config import AnalysisConfig
from fcgraph.analysis.groups import Groups, size_distribution
from fcgraph.analysis.pair import NEURON_COLUMNS
from fcgraph.analysis.units import (
    FORMAT_VERSION,
    PairData,
    ProgressFn,
    cached_analysis_part,
    n_pairs,
    pair_units,
    plan_analysis,
    units_on_cluster,
)
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.execution import Execution
from fcgraph.io import (
    atomic_write,
    atomic_write_text,
    plain,
    remove_stale_temps,
    writing_into,
)
from fcgraph.mirror import local_run_folder
from fcgraph.run_folder import RunFolder

FORMAT = "fcgraph.analysis"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(plain(data), indent=1) + "\n")


def _check_inputs(rec: Any, conditions: list[str], edge_files: dict[str, Path]) -> None:
    """Refuse damaged inputs before anything is written: hash the spike files of
    ``conditions`` and validate the edge tables that the analysis reads."""
    from fcgraph.validate import validate_edge_file

    rec.verify_all(conditions)
    for condition in conditions:
        if condition in edge_files:
            validate_edge_file(edge_files[condition], rec.manifest, condition)




def analyze_run(recording: Path | str, config: AnalysisConfig | None = None, *,
                replicates: Sequence[Path | str] = (), progress: ProgressFn | None = None,
                restart: bool = False, figures: bool = True,
                execution: Execution | None = None) -> dict[str, Any]:
    """Analyse a recording whose edges were computed (``fcgraph fc``); write and return the
    ``analysis.json`` content (see :mod:`fcgraph.analysis` for its layout).

    ``replicates``: recordings of other independently trained networks (same architecture,
    same images, their edges computed), analysed like the trained one with their own groups: a
    finding is supported only if it also holds in each of them. They are only read.
    ``config``: the analysis' parameters (default :class:`AnalysisConfig`).
    ``execution``: where the units (a layer pair under one condition, its false-edge rate, or
    another network) run: in this process (the default), or on a Dask cluster, whose workers
    write the same parts into the run folder (which they must see at the same path); the
    files are then the same as in-process, but for ``created`` and ``seconds``. A recording at a
    URL is worked on through its local mirror (:func:`fcgraph.mirror.local_run_folder`).
    """
    config = config or AnalysisConfig()
    with ExitStack() as stack:
        root = stack.enter_context(local_run_folder(recording, progress=progress))
        reps = [stack.enter_context(local_run_folder(r, progress=progress)) for r in replicates]
        return _analyze_folders(root, reps, config, progress, restart, figures, execution)


def _analyze_folders(recording: Path, replicates: list[Path], config: AnalysisConfig,
                     progress: ProgressFn | None, restart: bool, figures: bool,
                     execution: Execution | None) -> dict[str, Any]:
    """:func:`analyze_run` on local folders."""
    from fcgraph.record import open_recording

    rec = open_recording(recording, verify=False)
    if rec.trials > 1:  # its decoders and image resampling take each presentation as an image
        raise FcgraphError(f"{rec.path} holds {rec.trials} trials of each image: analyze takes a "
                           "recording of one trial (record the findings' conditions without "
                           "--trials; trials serve fcgraph fc --null trial)")
    reps = [open_recording(r, verify=False) for r in replicates]
    for rep in reps:
        _check_replicate(rec, rep)
    with writing_into(rec.path):
        return _analyze(rec, config, progress, restart, figures, reps, execution)


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
             figures: bool, replicates: Sequence[Any] = (),
             execution: Execution | None = None) -> dict[str, Any]:
    """:func:`analyze_run` of an opened recording."""
    from fcgraph.analysis import findings as findings_mod

    t0 = time.perf_counter()
    plan = plan_analysis(rec, config, replicates)
    wanted, pairs = plan.wanted, plan.pairs
    _check_inputs(rec, wanted, plan.edge_files)
    run = RunFolder(rec.path)
    out_dir = run.analysis
    remove_stale_temps(out_dir)
    if restart and plan.parts.exists():
        for p in sorted(plan.parts.rglob("*.json")):
            p.unlink()
    # + the false-edge rate, + the principles of the trained network and of each other one,
    # + the jackknife replicates of each edge set
    total = len(pairs) * (len(wanted) + 2 * len(plan.networks) + 2 + len(plan.block_sources))
    done = 0
    if execution is not None and execution.distributed:
        units_on_cluster(plan, replicates, execution, progress, total)
    if progress:
        progress("analysis", 0, total)
    layers_out, cond_out = [], {c: [] for c in wanted}
    networks_out: dict[str, list[dict[str, Any]]] = {name: [] for name in plan.networks}
    neuron_frames = []
    for k_pair, (pre, post) in enumerate(pairs):
        data = PairData(plan, k_pair)
        units = pair_units(plan, data)
        neuron_frames.append(pd.DataFrame({
            "condition": "clean", "layer": post, "idx": np.arange(data.post_info.n_neurons),
            "pre_layer": pre, "group_size": data.groups.sizes, "analysed": False}))
        for condition in wanted:
            result = cached_analysis_part(*units[f"condition {condition}"])
            done += 1
            if progress:
                progress("analysis", done, total)
            neuron_frames.append(pd.DataFrame(result.pop("neurons"), columns=list(NEURON_COLUMNS)))
            if condition == "clean":
                layers_out.append(_network_layer(rec, "clean", pre, post, data.groups, result))
                cal = cached_analysis_part(*units["calibration"])
                layers_out[-1].update(false_edge_rate=cal["false_edge_rate"], false_edges=cal,
                                      principles=cached_analysis_part(*units["principles clean"]))
                done += 2
                if progress:
                    progress("analysis", done, total)
            else:
                cond_out[condition].append(result)
        for name, (net_rec, condition, _, _) in plan.networks.items():
            # another network (a control, or a replicate: a second trained network) with its
            # own groups, analysed like the trained one
            result = cached_analysis_part(*units[f"network {name}"])
            result.pop("neurons")
            result["principles"] = cached_analysis_part(*units[f"principles {name}"])
            done += 2
            if progress:
                progress("analysis", done, total)
            networks_out[name].append(_network_layer(net_rec, condition, pre, post,
                                                     data.own(name)[0], result))
        # the edges' jackknife replicates, summarised per edge set (conditions against clean)
        clean_blocks = cached_analysis_part(*units["blocks clean"])
        layers_out[-1]["blocks"] = network_summary(clean_blocks, config.min_group)
        for name in plan.block_sources:
            if name == "clean":
                continue
            part = cached_analysis_part(*units[f"blocks {name}"])
            if name in networks_out:
                networks_out[name][-1]["blocks"] = network_summary(part, config.min_group)
            else:
                cond_out[name][-1]["blocks"] = condition_summary(part, clean_blocks,
                                                                   config.min_group)
        done += len(plan.block_sources)
        if progress:
            progress("analysis", done, total)
    controls = plan.controls
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
        "networks": {c: {"kind": c.split(":")[0], "role": findings_mod.condition_role(c),
                         "accuracy": _accuracy(rec, c),
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
    return plain(analysis)




def _network_layer(rec: Any, condition: str, pre: str, post: str, groups: Groups,
                   result: dict[str, Any]) -> dict[str, Any]:
    """A network's layer-pair row: its own groups' edges, tested pairs, false-edge rate, group
    sizes and the pair's analysis ``result``."""
    info = rec.layer(post)
    return {"pre_layer": pre, "post_layer": post, "order": info.order,
            "n_neurons": info.n_neurons, "clean_edges": groups.n_edges,
            "tested_pairs": n_pairs(rec.manifest, condition, pre, post),
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
    with local_run_folder(recording) as root:
        return _load_analysis(root, recording)


def _load_analysis(root: Path, recording: Path | str) -> dict[str, Any]:
    run = RunFolder(root)
    if not run.root.is_dir():
        raise BadArgument(str(recording), "recording folder does not exist")
    path = run.analysis_json
    if not path.exists():
        raise FcgraphError(f"{path}: missing; run `fcgraph analyze {recording}` first")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise FcgraphError(f"{path}: not valid JSON ({exc})") from None
