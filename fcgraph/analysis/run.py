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
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fcgraph.analysis.blocks import (
    block_sample,
    condition_summary,
    edge_replicates,
    image_groups,
    network_summary,
)
from fcgraph.analysis.calibration import false_edge_rate
from fcgraph.analysis.config import AnalysisConfig
from fcgraph.analysis.groups import Groups, size_distribution
from fcgraph.analysis.io_heldout import io_fits
from fcgraph.analysis.pair import (
    CONDITION_READOUTS,
    NEURON_COLUMNS,
    READOUTS,
    analyse_pair,
    sample_neurons,
)
from fcgraph.analysis.principles import principles
from fcgraph.contract import condition_slug
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.execution import Execution
from fcgraph.io import (
    atomic_write,
    atomic_write_text,
    plain,
    remove_stale_temps,
    sha256_file,
    writing_into,
)
from fcgraph.parts import cached_part, part_key, read_part
from fcgraph.run_folder import MANIFEST, RunFolder, layer_pairs

NETWORKS = "networks"  # parts of the control networks (and checkpoints) with their own groups
#: the condition roles recorded on another network, analysed with its own groups
OWN_GROUPS = ("control", "checkpoint")
REPLICATES = "replicates"  # parts of the replicate networks (other recordings)
CALIBRATION = "calibration"  # parts of the clean layer pairs' measured false-edge rates
PRINCIPLES = "principles"  # parts of each network's named principles (finding 1)
BLOCKS = "blocks"  # parts of the image-block jackknife of the edges (findings 1 and 4)
FORMAT = "fcgraph.analysis"
FORMAT_VERSION = 8
ProgressFn = Callable[[str, int, int], None]
def _key(*parts: Any) -> str:
    """A part's key: its inputs and parameters, and the format (a part written by code of
    another format is recomputed)."""
    return part_key(FORMAT_VERSION, *parts)


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


def _n_pairs(manifest: Any, condition: str, pre: str, post: str, key: str = "tested") -> int | None:
    value = manifest.fc_pair(condition, pre, post).get(key)
    return int(value) if value is not None else None


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
    files are then the same as in-process, but for ``created`` and ``seconds``.
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


@dataclass
class _Plan:
    """What every unit of an analysis reads: the recording, settings, conditions, layer pairs,
    edge tables, the other networks and the content hashes that key the parts."""

    rec: Any
    config: AnalysisConfig
    wanted: list[str]
    pairs: list[tuple[str, str]]
    edge_files: dict[str, Path]
    parts: Path
    #: name -> (its recording, its condition, its parts folder, its edge table's SHA-256)
    networks: dict[str, tuple[Any, str, Path, str]]
    spike_hashes: dict[str, dict[str, str]]
    edge_hashes: dict[str, str]

    @property
    def controls(self) -> list[str]:
        """The conditions recorded on another network (control networks, training
        checkpoints); the replicates are other recordings."""
        return [name for name in self.networks if not name.startswith("replicate:")]

    @property
    def block_sources(self) -> dict[str, tuple[Any, str]]:
        """name -> (recording, condition) of every edge set the jackknife resamples: clean,
        the floor and perturbation conditions (compared with clean) and every other network."""
        from fcgraph.analysis import findings as findings_mod

        return {"clean": (self.rec, "clean"),
                **{c: (self.rec, c) for c in self.wanted
                   if findings_mod.condition_role(c) in ("floor", "perturbation")},
                **{name: (r, c) for name, (r, c, _, _) in self.networks.items()}}


def _plan(rec: Any, config: AnalysisConfig, replicates: Sequence[Any] = ()) -> _Plan:
    """The analysis of ``rec`` checked and planned (nothing read but the manifest and the edge
    tables' hashes; nothing written)."""
    from fcgraph.analysis import findings as findings_mod

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
    parts = RunFolder(root).analysis_parts
    networks = {c: (rec, c, parts / NETWORKS / condition_slug(c), sha256_file(edge_files[c]))
                for c in wanted if c in edge_files
                and findings_mod.condition_role(c) in OWN_GROUPS}
    networks.update({f"replicate:{r.run_id}": (
        r, "clean", parts / REPLICATES / r.run_id,
        sha256_file(r.manifest.edge_files(r.path)["clean"])) for r in replicates})
    # a part's key names its inputs by content, so finished parts survive a copy of the folder
    spike_hashes = {c: {la.name: rec.condition_info(c)["layers"][la.name]["sha256"]
                        for la in rec.layers} for c in wanted}
    edge_hashes = {c: sha256_file(edge_files[c]) for c in wanted if c in edge_files}
    return _Plan(rec, config, wanted, layer_pairs(rec.layers), edge_files, parts, networks,
                 spike_hashes, edge_hashes)


class _PairData:
    """The inputs of one layer pair's units, read when first needed: the clean 1FC groups and
    sampled neurons, and each other network's own."""

    def __init__(self, plan: _Plan, k_pair: int) -> None:
        self.plan, self.k_pair = plan, k_pair
        self.pre, self.post = plan.pairs[k_pair]
        self.post_info = plan.rec.layer(self.post)
        self._own: dict[str, tuple[Groups, np.ndarray]] = {}

    @cached_property
    def groups(self) -> Groups:
        return Groups.from_file(self.plan.edge_files["clean"], self.pre, self.post,
                                self.post_info.n_neurons)

    @cached_property
    def sampled(self) -> np.ndarray:
        counts = self.plan.rec.packed("clean", self.post).spike_counts()
        return sample_neurons(self.groups.sizes, counts, self.plan.config, self.post_info.order)

    @property
    def clean_edges(self) -> tuple[np.ndarray, np.ndarray]:
        return self.groups.pre, np.repeat(np.arange(self.post_info.n_neurons), self.groups.sizes)

    def own(self, name: str) -> tuple[Groups, np.ndarray]:
        """(the groups, the sampled neurons) of network ``name`` from its own edges."""
        if name not in self._own:
            net_rec, condition, _, _ = self.plan.networks[name]
            groups = Groups.from_file(net_rec.manifest.edge_files(net_rec.path)[condition],
                                      self.pre, self.post, self.post_info.n_neurons)
            counts = net_rec.packed(condition, self.post).spike_counts()
            self._own[name] = groups, sample_neurons(groups.sizes, counts, self.plan.config,
                                                     self.post_info.order)
        return self._own[name]


#: A unit of work: (its part file, its key, the computation of its result).
Unit = tuple[Path, str, Callable[[], dict[str, Any]]]


def _pair_units(plan: _Plan, data: _PairData) -> dict[str, Unit]:
    """Every unit of one layer pair, by name: ``condition C`` (the clean groups under C),
    ``calibration`` (the clean pair's false-edge rate), ``network N`` (network N with its own
    groups), ``principles N`` (the named principles of network N, ``clean`` the trained
    one) and ``blocks N`` (the jackknife replicates of the edges of N, a network or a
    condition: :mod:`fcgraph.analysis.blocks`)."""
    rec, config, k_pair, pre, post = plan.rec, plan.config, data.k_pair, data.pre, data.post
    hashes = plan.spike_hashes
    units: dict[str, Unit] = {}
    for condition in plan.wanted:
        is_clean = condition == "clean"
        key = _key(config.to_json(), condition, pre, post, hashes[condition][pre],
                   hashes[condition][post], hashes["clean"][post], plan.edge_hashes["clean"],
                   plan.edge_hashes.get(condition))
        units[f"condition {condition}"] = (
            plan.parts / condition_slug(condition) / f"{k_pair}.json", key,
            lambda c=condition, clean=is_clean: _with_io_fits(analyse_pair(
                rec, c, pre, post, data.groups, data.sampled, config, data.clean_edges,
                None if clean else plan.edge_files.get(c),
                _n_pairs(rec.manifest, c, pre, post, "pairs"),
                n_boot=config.n_boot if clean else 0,
                readouts=READOUTS if clean else CONDITION_READOUTS),
                rec, c, pre, post, data.groups, data.sampled, config, clean))
    units["calibration"] = (
        plan.parts / CALIBRATION / f"{k_pair}.json",
        _key("false edges", pre, post, hashes["clean"][pre], hashes["clean"][post],
             rec.manifest.fc.get("parameters"),
             rec.manifest.fc_pair("clean", pre, post).get("threshold")),
        partial(false_edge_rate, rec, pre, post))
    for name, (net_rec, condition, folder, edge_hash) in plan.networks.items():
        info = net_rec.condition_info(condition)["layers"]
        units[f"network {name}"] = (
            folder / f"{k_pair}.json",
            _key(config.to_json(), "own groups", condition, pre, post, info[pre]["sha256"],
                 info[post]["sha256"], edge_hash),
            lambda n=name, r=net_rec, c=condition: _with_io_fits(analyse_pair(
                r, c, pre, post, *data.own(n), config, None, None, None),
                r, c, pre, post, *data.own(n), config))
    networks = {"clean": (rec, "clean", plan.edge_hashes["clean"]),
                **{name: (r, c, h) for name, (r, c, _, h) in plan.networks.items()}}
    for name, (net_rec, condition, edge_hash) in networks.items():
        info = net_rec.condition_info(condition)["layers"]
        min_spikes = int(net_rec.manifest.fc.get("parameters", {}).get("min_spikes", 10))
        units[f"principles {name}"] = (
            plan.parts / PRINCIPLES / condition_slug(name) / f"{k_pair}.json",
            _key("principles", condition, pre, post, info[pre]["sha256"], info[post]["sha256"],
                 edge_hash, min_spikes),
            partial(principles, net_rec, condition, pre, post,
                    net_rec.manifest.edge_files(net_rec.path)[condition], min_spikes))
    groups = image_groups(rec.labels, config.n_blocks, config.seed)
    sample = block_sample(data.post_info.n_neurons, config.max_neurons, config.seed,
                          data.post_info.order)
    for name, (net_rec, condition) in plan.block_sources.items():
        info = net_rec.condition_info(condition)["layers"]
        units[f"blocks {name}"] = (
            plan.parts / BLOCKS / condition_slug(name) / f"{k_pair}.json",
            _key(config.to_json(), "blocks", condition, pre, post, info[pre]["sha256"],
                 info[post]["sha256"], groups.tolist(), net_rec.manifest.fc.get("parameters"),
                 net_rec.manifest.fc_pair(condition, pre, post).get("threshold")),
            partial(edge_replicates, net_rec, condition, pre, post, sample, groups))
    return units


def _with_io_fits(result: dict[str, Any], rec: Any, condition: str, pre: str, post: str,
                  groups: Groups, sampled: np.ndarray, config: AnalysisConfig,
                  network: bool = True) -> dict[str, Any]:
    """A network's pair ``result`` with its curves fitted in and out of sample (finding 3:
    :func:`~fcgraph.analysis.io_heldout.io_fits`) under ``result["io"]``."""
    if network:
        result["io"].update(io_fits(rec, condition, pre, post, groups, sampled, config))
    return result


def analysis_unit(root: str, config: AnalysisConfig, replicates: list[str], k_pair: int,
                  name: str) -> str:
    """One unit of an analysis as a Dask task computes it on a worker: its part, saved.

    Parameters
    ----------
    root : str
        The recording folder, at the same path as on the client (which checked its files).
    config : AnalysisConfig
        The analysis' parameters.
    replicates : list of str
        The replicate recordings' folders.
    k_pair : int
        The layer pair's index.
    name : str
        The unit's name within the pair (see ``_pair_units``).

    Returns
    -------
    str
        ``name``.
    """
    from fcgraph.record import open_recording

    rec = open_recording(root, verify=False)
    reps = [open_recording(r, verify=False) for r in replicates]
    with writing_into(rec.path):
        plan = _plan(rec, config, reps)
        _cached_part(*_pair_units(plan, _PairData(plan, k_pair))[name])
    return name


def _pending(plan: _Plan) -> list[tuple[int, str]]:
    """(layer pair, unit name) of every unit whose part is missing or has another key."""
    pending = []
    for k_pair in range(len(plan.pairs)):
        for name, (part, key, _) in _pair_units(plan, _PairData(plan, k_pair)).items():
            try:
                found = read_part(part)
            except FcgraphError:
                found = None
            if found is None or found[1] != key:
                pending.append((k_pair, name))
    return pending


def _units_on_cluster(plan: _Plan, replicates: Sequence[Any], execution: Execution,
                      progress: ProgressFn | None, total: int) -> int:
    """Compute the pending units on the Dask cluster of ``execution`` (their parts are then
    read as a resumed run reads them); returns how many were computed."""
    from fcgraph.execution import check_shared_folder, dask_client, run_units

    todo = _pending(plan)
    if not todo:
        return 0
    root = plan.rec.path.resolve()
    args = [(str(root), plan.config, [str(r.path.resolve()) for r in replicates], k, name)
            for k, name in todo]
    done = total - len(todo)
    if progress:
        progress("analysis", done, total)

    def finished(i: int, _: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress("analysis", done, total)

    with dask_client(execution) as client:
        assert client is not None
        check_shared_folder(client, root, MANIFEST)
        run_units(client, analysis_unit, args, finished, name="fcgraph-analyze",
                  describe=lambda i: "{} of layer pair {}".format(todo[i][1], "->".join(
                      plan.pairs[todo[i][0]])))
    return len(todo)


def _analyze(rec: Any, config: AnalysisConfig, progress: ProgressFn | None, restart: bool,
             figures: bool, replicates: Sequence[Any] = (),
             execution: Execution | None = None) -> dict[str, Any]:
    """:func:`analyze_run` of an opened recording."""
    from fcgraph.analysis import findings as findings_mod

    t0 = time.perf_counter()
    plan = _plan(rec, config, replicates)
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
        _units_on_cluster(plan, replicates, execution, progress, total)
    if progress:
        progress("analysis", 0, total)
    layers_out, cond_out = [], {c: [] for c in wanted}
    networks_out: dict[str, list[dict[str, Any]]] = {name: [] for name in plan.networks}
    neuron_frames = []
    for k_pair, (pre, post) in enumerate(pairs):
        data = _PairData(plan, k_pair)
        units = _pair_units(plan, data)
        neuron_frames.append(pd.DataFrame({
            "condition": "clean", "layer": post, "idx": np.arange(data.post_info.n_neurons),
            "pre_layer": pre, "group_size": data.groups.sizes, "analysed": False}))
        for condition in wanted:
            result = _cached_part(*units[f"condition {condition}"])
            done += 1
            if progress:
                progress("analysis", done, total)
            neuron_frames.append(pd.DataFrame(result.pop("neurons"), columns=list(NEURON_COLUMNS)))
            if condition == "clean":
                layers_out.append(_network_layer(rec, "clean", pre, post, data.groups, result))
                cal = _cached_part(*units["calibration"])
                layers_out[-1].update(false_edge_rate=cal["false_edge_rate"], false_edges=cal,
                                      principles=_cached_part(*units["principles clean"]))
                done += 2
                if progress:
                    progress("analysis", done, total)
            else:
                cond_out[condition].append(result)
        for name, (net_rec, condition, _, _) in plan.networks.items():
            # another network (a control, or a replicate: a second trained network) with its
            # own groups, analysed like the trained one
            result = _cached_part(*units[f"network {name}"])
            result.pop("neurons")
            result["principles"] = _cached_part(*units[f"principles {name}"])
            done += 2
            if progress:
                progress("analysis", done, total)
            networks_out[name].append(_network_layer(net_rec, condition, pre, post,
                                                     data.own(name)[0], result))
        # the edges' jackknife replicates, summarised per edge set (conditions against clean)
        clean_blocks = _cached_part(*units["blocks clean"])
        layers_out[-1]["blocks"] = network_summary(clean_blocks, config.min_group)
        for name in plan.block_sources:
            if name == "clean":
                continue
            part = _cached_part(*units[f"blocks {name}"])
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


def _cached_part(part: Path, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The part at ``part`` when its key matches, else ``compute()`` saved there
    (:func:`fcgraph.parts.cached_part`, the rule every stage's parts follow)."""
    return cached_part(part, key, lambda: plain(compute()), checkpoint="analyze.part")


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
    run = RunFolder(recording)
    if not run.root.is_dir():
        raise BadArgument(str(recording), "recording folder does not exist")
    path = run.analysis_json
    if not path.exists():
        raise FcgraphError(f"{path}: missing; run `fcgraph analyze {recording}` first")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise FcgraphError(f"{path}: not valid JSON ({exc})") from None
