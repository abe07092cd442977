"""The units of work of an analysis (:func:`fcgraph.analysis.run.analyze_run`) and their parts.

:func:`plan_analysis` checks a recording and plans its analysis (:class:`Plan`: conditions,
layer pairs, edge tables, the other networks, the content hashes that key the parts);
:func:`pair_units` lists every unit of one layer pair (:class:`PairData`: its groups and
sampled neurons, read once) with its part file and key. A unit computes in this process
(:func:`cached_analysis_part`) or, with a Dask cluster, on a worker (:func:`analysis_unit`,
sent by :func:`units_on_cluster`); either way its part is the same file, and a rerun skips
the parts whose key matches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np

from fcgraph.analysis.blocks import block_sample, edge_replicates, image_groups
from fcgraph.analysis.calibration import false_edge_rate
from fcgraph.analysis.config import AnalysisConfig
from fcgraph.analysis.groups import Groups
from fcgraph.analysis.io_heldout import io_fits
from fcgraph.analysis.pair import CONDITION_READOUTS, READOUTS, analyse_pair, sample_neurons
from fcgraph.analysis.principles import principles
from fcgraph.contract import condition_slug
from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.execution import Execution, ProgressFn
from fcgraph.io import plain, sha256_file, writing_into
from fcgraph.parts import cached_part, part_key, read_part
from fcgraph.run_folder import MANIFEST, RunFolder, layer_pairs

NETWORKS = "networks"  # parts of the control networks (and checkpoints) with their own groups
#: the condition roles recorded on another network, analysed with its own groups
OWN_GROUPS = ("control", "checkpoint")
REPLICATES = "replicates"  # parts of the replicate networks (other recordings)
CALIBRATION = "calibration"  # parts of the clean layer pairs' measured false-edge rates
PRINCIPLES = "principles"  # parts of each network's named principles (finding 1)
BLOCKS = "blocks"  # parts of the image-block jackknife of the edges (findings 1 and 4)
#: the parts' format: a part written by code of another format is recomputed
FORMAT_VERSION = 8


def _key(*parts: Any) -> str:
    """A part's key: its inputs and parameters, and the format (a part written by code of
    another format is recomputed)."""
    return part_key(FORMAT_VERSION, *parts)


def n_pairs(manifest: Any, condition: str, pre: str, post: str, key: str = "tested") -> int | None:
    value = manifest.fc_pair(condition, pre, post).get(key)
    return int(value) if value is not None else None


@dataclass
class Plan:
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


def plan_analysis(rec: Any, config: AnalysisConfig, replicates: Sequence[Any] = ()) -> Plan:
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
    return Plan(rec, config, wanted, layer_pairs(rec.layers), edge_files, parts, networks,
                 spike_hashes, edge_hashes)


class PairData:
    """The inputs of one layer pair's units, read when first needed: the clean 1FC groups and
    sampled neurons, and each other network's own."""

    def __init__(self, plan: Plan, k_pair: int) -> None:
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


def pair_units(plan: Plan, data: PairData) -> dict[str, Unit]:
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
                n_pairs(rec.manifest, c, pre, post, "pairs"),
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
        halves = name not in plan.networks  # finding 4 reads them: clean and its conditions
        units[f"blocks {name}"] = (
            plan.parts / BLOCKS / condition_slug(name) / f"{k_pair}.json",
            _key(config.to_json(), "blocks", condition, pre, post, info[pre]["sha256"],
                 info[post]["sha256"], groups.tolist(), net_rec.manifest.fc.get("parameters"),
                 net_rec.manifest.fc_pair(condition, pre, post).get("threshold"), halves),
            partial(edge_replicates, net_rec, condition, pre, post, sample, groups,
                    halves=halves))
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
        The unit's name within the pair (see ``pair_units``).

    Returns
    -------
    str
        ``name``.
    """
    from fcgraph.record import open_recording

    rec = open_recording(root, verify=False)
    reps = [open_recording(r, verify=False) for r in replicates]
    with writing_into(rec.path):
        plan = plan_analysis(rec, config, reps)
        cached_analysis_part(*pair_units(plan, PairData(plan, k_pair))[name])
    return name


def _pending(plan: Plan) -> list[tuple[int, str]]:
    """(layer pair, unit name) of every unit whose part is missing or has another key."""
    pending = []
    for k_pair in range(len(plan.pairs)):
        for name, (part, key, _) in pair_units(plan, PairData(plan, k_pair)).items():
            try:
                found = read_part(part)
            except FcgraphError:
                found = None
            if found is None or found[1] != key:
                pending.append((k_pair, name))
    return pending


def units_on_cluster(plan: Plan, replicates: Sequence[Any], execution: Execution,
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


def cached_analysis_part(part: Path, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The part at ``part`` when its key matches, else ``compute()`` saved there
    (:func:`fcgraph.parts.cached_part`, the rule every stage's parts follow)."""
    return cached_part(part, key, lambda: plain(compute()), checkpoint="analyze.part")
