"""The named query library (``cypher/*.cypher``) as a Python API returning pandas DataFrames.

Each query file starts with a comment header that declares it::

    // name: ensemble
    // description: The 1FC group of a neuron ...
    // param run_id: string -- the run
    // param condition: string = clean -- condition name
    // param direction: string(in|out) = out -- a string with fixed choices
    // param limit: int(1..) = 1000 -- an int with a lower bound (``int(1..50)``: both bounds)
    // param min_z: float = null -- optional, no default
    // one_of: uid, source_layer -- exactly one of these must be given
    // timeout: 120 -- default transaction timeout in seconds
    // needs_all_edges: run_id:condition -- the answer counts loaded edges (see below)
    // returns: ... / note: ... (documentation; continued on lines starting "//   ")

A parameter without ``=`` is required. Types are ``string``, ``int``, ``float`` and ``bool``.
User values only ever travel as query parameters, never into the Cypher text. Queries run in
read sessions; an FC edge counts only when it is live (``r.gen`` equals its condition's gen).

``needs_all_edges`` lists ``run_param:condition_param`` pairs whose loaded edges the answer
counts (a null condition parameter falls back to ``condition``, and a null ``condition`` means
every condition of the run). When the graph holds only a subset of such a condition's edges
(ingested with ``--top-k`` or ``--min-z``), :func:`run_query` says so: the frame's
``attrs["complete"]`` is False and ``attrs["warning"]`` says which subset it holds.

Besides :func:`run_query`, thin functions named after the queries (``ensemble``, ``pathways``,
``edge_loss``, ``lost_pathways``, ``hubs``, ``layer_summary``, ``compare_runs``) take keyword
arguments, and :func:`strongest_paths` ranks paths exactly by a layer-by-layer dynamic programme
in Python, which scales where the Cypher enumeration of ``pathways`` does not.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import pandas as pd

from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.graph.connection import Graph
from fcgraph.paths import cypher_dir

TYPES = ("string", "int", "float", "bool")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_PARAM_RE = re.compile(
    r"param\s+(?P<name>[A-Za-z_]\w*)\s*:\s*(?P<type>\w+)(?:\((?P<spec>[^)]*)\))?"
    r"\s*(?:=\s*(?P<default>.*?))?\s*(?:--\s*(?P<help>.*))?$")


@dataclass(frozen=True)
class Param:
    """One declared query parameter. ``default`` is already coerced to ``type``."""

    name: str
    type: str
    required: bool
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""

    def describe(self) -> str:
        """``name: type[(spec)] [= default]`` as in the header."""
        spec = "|".join(self.choices) if self.choices else ""
        if self.minimum is not None or self.maximum is not None:
            spec = f"{_num(self.minimum)}..{_num(self.maximum)}"
        text = f"{self.name}: {self.type}{f'({spec})' if spec else ''}"
        if not self.required:
            text += f" = {'null' if self.default is None else _num(self.default)}"
        return text


@dataclass(frozen=True)
class QuerySpec:
    """A parsed query file: its header fields and the full text."""

    name: str
    description: str
    params: dict[str, Param]
    one_of: tuple[str, ...]
    timeout: float | None
    needs_all_edges: tuple[tuple[str, str], ...]
    returns: str
    note: str
    text: str
    path: Path
    #: the columns a table shows by default (header ``// table: a, b, ...``; empty: all)
    table: tuple[str, ...] = ()


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# ----------------------------------------------------------------------------- header parsing

def _header_lines(text: str) -> list[str]:
    """The leading ``//`` comment lines, without the slashes; continuation lines are joined."""
    lines: list[str] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped.startswith("//"):
            break
        body = stripped[2:]
        if body.startswith("  ") and lines:
            lines[-1] += " " + body.strip()
        else:
            lines.append(body.strip())
    return lines


def _parse_param(path: Path, line: str) -> Param:
    match = _PARAM_RE.match(line)
    if not match or match["type"] not in TYPES:
        raise FcgraphError(f"{path}: bad header line {line!r}")
    name, kind, spec = match["name"], match["type"], match["spec"]
    choices: tuple[str, ...] = ()
    minimum = maximum = None
    if spec is not None:
        if kind == "string":
            choices = tuple(c.strip() for c in spec.split("|"))
        elif kind in ("int", "float") and ".." in spec:
            low, high = (s.strip() for s in spec.split("..", 1))
            minimum = float(low) if low else None
            maximum = float(high) if high else None
        else:
            raise FcgraphError(f"{path}: bad type spec in {line!r}")
    param = Param(name=name, type=kind, required=match["default"] is None, choices=choices,
                  minimum=minimum, maximum=maximum, help=(match["help"] or "").strip())
    if match["default"] is not None and match["default"] != "null":
        default = _coerce(f"{path.stem}", param, match["default"])
        param = Param(**{**param.__dict__, "default": default})
    return param


def parse_query_file(path: Path) -> QuerySpec:
    """Parse one ``.cypher`` file of the library; :class:`FcgraphError` names a bad header."""
    text = path.read_text()
    fields: dict[str, str] = {}
    params: dict[str, Param] = {}
    for line in _header_lines(text):
        if line.startswith("param "):
            param = _parse_param(path, line)
            params[param.name] = param
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("name", "description", "one_of", "timeout", "returns", "note",
                                   "needs_all_edges", "table"):
            fields[key.strip()] = value.strip()
    if fields.get("name") != path.stem:
        raise FcgraphError(f"{path}: header '// name: {path.stem}' missing or different")
    one_of = tuple(s.strip() for s in fields.get("one_of", "").split(",") if s.strip())
    unknown = [n for n in one_of if n not in params]
    if unknown:
        raise FcgraphError(f"{path}: one_of names undeclared parameter {unknown[0]!r}")
    timeout = float(fields["timeout"]) if fields.get("timeout") else None
    needs = []
    for item in fields.get("needs_all_edges", "").split(","):
        run_param, sep, cond_param = item.strip().partition(":")
        if not item.strip():
            continue
        if not sep or run_param not in params or cond_param not in params:
            raise FcgraphError(f"{path}: needs_all_edges item {item.strip()!r} must be "
                               "run_param:condition_param, both declared")
        needs.append((run_param, cond_param))
    return QuerySpec(name=path.stem, description=fields.get("description", ""), params=params,
                     one_of=one_of, timeout=timeout, needs_all_edges=tuple(needs),
                     returns=fields.get("returns", ""),
                     note=fields.get("note", ""), text=text, path=path,
                     table=tuple(c.strip() for c in fields.get("table", "").split(",") if c.strip()))


def _query_files() -> dict[str, Path]:
    """Query name -> file, for every ``.cypher`` file with a ``// name:`` header."""
    files = {}
    for path in sorted(cypher_dir().glob("*.cypher")):
        with path.open() as fh:
            if fh.readline().startswith("// name:"):
                files[path.stem] = path
    return files


def get_query(name: str) -> QuerySpec:
    """The parsed query ``name``; :class:`FcgraphError` lists the available names if unknown."""
    files = _query_files()
    if name not in files:
        available = ", ".join(files) or f"none in {cypher_dir()}"
        raise BadArgument("NAME", f"unknown query {name!r} (available: {available})")
    return parse_query_file(files[name])


def list_queries() -> pd.DataFrame:
    """One row per named query: name, description, params (``name: type [= default]``, ...)."""
    rows = []
    for name in _query_files():
        spec = get_query(name)
        rows.append({"name": name, "description": spec.description,
                     "params": ", ".join(p.describe() for p in spec.params.values())})
    return pd.DataFrame(rows, columns=["name", "description", "params"])


def query_text(name: str) -> str:
    """The full Cypher text of query ``name`` (header comments included)."""
    return get_query(name).text


def query_params(name: str) -> dict[str, Param]:
    """The declared parameters of query ``name``, in header order (type, default, choices)."""
    return dict(get_query(name).params)


# ----------------------------------------------------------------------------- parameters

def _coerce(query: str, param: Param, value: Any) -> Any:
    """``value`` (a Python value or a command-line string) as ``param.type``, range-checked."""
    where, what = f"query {query}", f"parameter {param.name!r}"
    kind, is_text = param.type, isinstance(value, str)
    out: Any
    if kind == "string":
        if not is_text:
            raise BadArgument(where, f"{what} expects a string, got {value!r}")
        out = value
        if param.choices and out not in param.choices:
            raise BadArgument(where, f"{what} must be one of {', '.join(param.choices)} (got {out!r})")
        return out
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if is_text and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise BadArgument(where, f"{what} expects true or false, got {value!r}")
    try:
        if isinstance(value, bool):
            raise ValueError
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            out = int(value.strip()) if is_text else int(value)
        else:
            out = float(value)
            if not math.isfinite(out):
                raise ValueError
    except (TypeError, ValueError):
        raise BadArgument(where, f"{what} expects {'an int' if kind == 'int' else 'a number'}, "
                                 f"got {value!r}") from None
    if param.minimum is not None and out < param.minimum:
        raise BadArgument(where, f"{what} must be >= {_num(param.minimum)} (got {out})")
    if param.maximum is not None and out > param.maximum:
        raise BadArgument(where, f"{what} must be <= {_num(param.maximum)} (got {out})")
    return out


def coerce_params(name: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Every declared parameter of query ``name``: given values coerced, defaults filled in.

    ``None`` means "not given". Raises :class:`FcgraphError` (one line) on an unknown or
    missing parameter, a bad value, or a broken ``one_of`` rule.
    """
    spec = get_query(name)
    given = {k: v for k, v in (params or {}).items() if v is not None}
    unknown = [k for k in given if k not in spec.params]
    if unknown:
        raise BadArgument(f"--param {unknown[0]}", f"query {name} has no parameter {unknown[0]!r} "
                                                   f"(parameters: {', '.join(spec.params)})")
    values: dict[str, Any] = {}
    for pname, param in spec.params.items():
        if pname in given:
            values[pname] = _coerce(name, param, given[pname])
        elif param.required:
            raise BadArgument(f"query {name}", f"needs parameter {pname!r} ({param.type}"
                                               f"{': ' + param.help if param.help else ''})")
        else:
            values[pname] = param.default
    if spec.one_of and sum(values[n] is not None for n in spec.one_of) != 1:
        raise BadArgument(f"query {name}", f"needs exactly one of {', '.join(spec.one_of)}")
    return values


# ----------------------------------------------------------------------------- running

def records_frame(result: neo4j.EagerResult) -> pd.DataFrame:
    """Records as a DataFrame with the query's columns (lists stay Python lists)."""
    return pd.DataFrame([list(r.values()) for r in result.records], columns=list(result.keys))


def _names(given: str | Sequence[str] | None) -> list[str]:
    return [given] if isinstance(given, str) else list(given or [])


def check_run_names(graph: Graph, run_id: str, run_arg: str, *,
                    conditions: dict[str, str | Sequence[str] | None] | None = None,
                    layers: dict[str, str | Sequence[str] | None] | None = None,
                    neurons: dict[str, str | Sequence[str] | None] | None = None) -> None:
    """Raise a one-line :class:`BadArgument` naming the argument when run ``run_id``, or one of
    its conditions, layers or neurons that the arguments name, is not in the graph.

    Parameters
    ----------
    graph : Graph
        The graph.
    run_id : str
        The run; ``run_arg`` names the argument that gave it.
    conditions, layers, neurons : dict, optional
        Argument name -> a condition name / layer name / neuron uid of the run, or a list of
        them (None: not given).
    """
    uids = [uid for given in (neurons or {}).values() for uid in _names(given)]
    rec = graph.read("""
        OPTIONAL MATCH (r:Run {run_id: $run_id})
        RETURN r IS NOT NULL AS found,
               [(r)-[:HAS_CONDITION]->(c:Condition) | c.name] AS conditions,
               COLLECT { MATCH (r)-[:HAS_LAYER]->(l:Layer) RETURN l.name ORDER BY l.order }
                 AS layers,
               COLLECT { MATCH (n:Neuron) WHERE n.uid IN $uids AND n.run_id = $run_id
                         RETURN n.uid } AS neurons,
               COLLECT { MATCH (x:Run) RETURN x.run_id ORDER BY x.run_id LIMIT 10 } AS runs""",
                     {"run_id": run_id, "uids": uids}, what="checking the run").records[0]
    if not rec["found"]:
        raise BadArgument(run_arg, f"no run {run_id!r} in the graph (runs: "
                                   f"{', '.join(rec['runs']) or 'none'}; a run not in the graph "
                                   "is loaded by fcgraph ingest)")
    for arg, given in (conditions or {}).items():
        for name in _names(given):
            if name not in rec["conditions"]:
                raise BadArgument(arg, f"run {run_id!r} has no condition {name!r} "
                                       f"(conditions: {', '.join(sorted(rec['conditions']))})")
    for arg, given in (layers or {}).items():
        for name in _names(given):
            if name not in rec["layers"]:
                raise BadArgument(arg, f"run {run_id!r} has no layer {name!r} "
                                       f"(layers: {', '.join(rec['layers'])})")
    for arg, given in (neurons or {}).items():
        for uid in _names(given):
            if uid not in rec["neurons"]:
                raise BadArgument(arg, f"no neuron {uid!r} in run {run_id!r} "
                                       "(uids are <run_id>/<layer>/<idx>)")


def _explain_empty(graph: Graph, values: dict[str, Any]) -> None:
    """After an empty answer: raise if a named run, condition, layer or neuron does not exist."""
    if values.get("run_id"):
        check_run_names(graph, values["run_id"], "--param run_id", conditions={
            f"--param {k}": values.get(k) for k in ("condition", "baseline")}, layers={
            f"--param {k}": values.get(k)
            for k in ("target_layer", "source_layer", "layer", "pre_layer")},
            neurons={"--param uid": values.get("uid")})
    if values.get("other_run_id"):
        other = values.get("other_condition") or values.get("condition")
        check_run_names(graph, values["other_run_id"], "--param other_run_id",
                        conditions={"--param other_condition": other})


def run_query(graph: Graph, name: str, params: dict[str, Any] | None = None, *,
              timeout: float | None = None) -> pd.DataFrame:
    """Run the named query with ``params`` (validated against its header) in a read session.

    ``timeout`` (seconds) overrides the header's ``timeout``. Returns a DataFrame with the
    query's columns. When the answer is empty because a named run, condition, layer or neuron
    does not exist, raises :class:`FcgraphError` saying which.
    """
    spec = get_query(name)
    values = coerce_params(name, params)
    result = graph.read(spec.text, values, what=f"query {name}",
                        timeout=timeout if timeout is not None else spec.timeout)
    frame = records_frame(result)
    if frame.empty:
        _explain_empty(graph, values)
    if spec.needs_all_edges:
        warning = subset_warning(graph, spec, values)
        frame.attrs.update(complete=warning is None, warning=warning)
    return frame


def subset_warning(graph: Graph, spec: QuerySpec, values: dict[str, Any]) -> str | None:
    """One line when a condition whose edges ``spec``'s answer counts (``needs_all_edges``) is
    loaded as a subset (``--top-k`` / ``--min-z``), else None."""
    scopes = [(values.get(run_param), values.get(cond_param) or values.get("condition"))
              for run_param, cond_param in spec.needs_all_edges]
    return loaded_subset_warning(graph, [(r, c) for r, c in scopes if r is not None])


def loaded_subset_warning(graph: Graph, scopes: list[tuple[str, str | None]]) -> str | None:
    """One line naming the conditions of ``scopes`` ((run_id, condition or None for all of the
    run's)) that the graph holds only a subset of (ingested with ``--top-k`` / ``--min-z``), or
    None when it holds every significant edge of each."""
    partial = []
    for run_id, name in scopes:
        for rec in graph.read("""
                MATCH (c:Condition {run_id: $run_id})
                WHERE ($name IS NULL OR c.name = $name) AND (c.top_k IS NOT NULL OR c.min_z IS NOT NULL)
                RETURN c.name AS name, c.top_k AS top_k, c.min_z AS min_z ORDER BY name""",
                              {"run_id": run_id, "name": name},
                              what="checking the loaded subset").records:
            rule = ", ".join(f"{k}={rec[k]}" for k in ("top_k", "min_z") if rec[k] is not None)
            partial.append(f"{run_id}/{rec['name']} ({rule})")
    if not partial:
        return None
    return (f"the graph holds a subset of the edges of {', '.join(partial)}: this answer counts "
            "only the loaded edges (ingest without --top-k / --min-z for all of them)")


# ----------------------------------------------------------------------------- named functions

def ensemble(graph: Graph, run_id: str, uid: str, condition: str = "clean", *,
             min_z: float | None = None, limit: int = 1000) -> pd.DataFrame:
    """The 1FC group of neuron ``uid``: one row per live in-edge (pre_*, post_*, statistics)."""
    return run_query(graph, "ensemble", {"run_id": run_id, "uid": uid, "condition": condition,
                                          "min_z": min_z, "limit": limit})


def pathways(graph: Graph, run_id: str, uid: str | None, target_layer: str,
             condition: str = "clean", k: int = 10, score: str = "sum_z", *,
             source_layer: str | None = None, min_z: float | None = None,
             max_paths: int | None = None, timeout: float | None = None) -> pd.DataFrame:
    """The k strongest paths by Cypher enumeration (see ``cypher/pathways.cypher``): rank,
    source_uid, target_uid, hops, score, sum_z, prod_value, weakest_z, path, z, value,
    candidates, exhaustive. Parameters left as None take the query's defaults."""
    return run_query(graph, "pathways", {
        "run_id": run_id, "uid": uid, "source_layer": source_layer, "target_layer": target_layer,
        "condition": condition, "k": k, "score": score, "min_z": min_z, "max_paths": max_paths,
    }, timeout=timeout)


def edge_loss(graph: Graph, run_id: str, condition: str, baseline: str = "clean") -> pd.DataFrame:
    """Per layer pair: baseline_edges, condition_edges, kept, lost, gained, lost_fraction,
    jaccard."""
    return run_query(graph, "edge_loss", {"run_id": run_id, "condition": condition,
                                           "baseline": baseline})


def lost_pathways(graph: Graph, run_id: str, condition: str, baseline: str = "clean", *,
                  pre_layer: str | None = None, min_z: float | None = None, limit: int = 100,
                  timeout: float | None = None) -> pd.DataFrame:
    """The strongest two-edge baseline pathways broken under ``condition``, with the broken
    edge ('first', 'second' or 'both')."""
    return run_query(graph, "lost_pathways", {
        "run_id": run_id, "condition": condition, "baseline": baseline, "pre_layer": pre_layer,
        "min_z": min_z, "limit": limit}, timeout=timeout)


def hubs(graph: Graph, run_id: str, condition: str = "clean", direction: str = "out",
         top: int = 10, *, layer: str | None = None) -> pd.DataFrame:
    """Per layer, the ``top`` neurons by live in- or out-degree (rank, uid, degree, z stats)."""
    return run_query(graph, "hubs", {"run_id": run_id, "condition": condition,
                                      "direction": direction, "top": top, "layer": layer})


def layer_summary(graph: Graph, run_id: str, condition: str | None = None) -> pd.DataFrame:
    """Per layer pair and condition: neurons, edges, density, mean degrees, mean z."""
    return run_query(graph, "layer_summary", {"run_id": run_id, "condition": condition})


def compare_runs(graph: Graph, run_id: str, other_run_id: str, condition: str = "clean",
                 other_condition: str | None = None, *, pre_layer: str | None = None) -> pd.DataFrame:
    """Per layer pair (those starting in ``pre_layer`` when given): edges of each run, shared,
    only_run (weakened / silenced), only_other, jaccard."""
    return run_query(graph, "compare_runs", {
        "run_id": run_id, "other_run_id": other_run_id, "condition": condition,
        "other_condition": other_condition, "pre_layer": pre_layer})


# ----------------------------------------------------------------------------- strongest paths

PATH_COLUMNS = ["rank", "source_uid", "target_uid", "hops", "score", "sum_z", "prod_value",
                "weakest_z", "path", "z", "value"]
_Partial = tuple[float, tuple[str, ...], tuple[float, ...], tuple[float, ...]]

_DP_START = """
MATCH (c:Condition {run_id: $run_id, name: $condition})
MATCH (tl:Layer {run_id: $run_id, name: $target_layer})
CALL () {
  MATCH (s:Neuron {uid: $uid}) WHERE s.run_id = $run_id RETURN s
  UNION
  MATCH (s:Neuron {run_id: $run_id, layer: $source_layer}) RETURN s
}
RETURN tl.order AS target_order, s.uid AS uid, s.layer_order AS layer_order
ORDER BY uid
"""
_DP_STEP = """
MATCH (c:Condition {run_id: $run_id, name: $condition})
WITH c.gen AS gen
UNWIND $uids AS u
MATCH (a:Neuron {uid: u})
CALL (a, gen) {
  MATCH (a)-[r:FC]->(b)
  WHERE r.gen = gen AND r.condition = $condition AND b.layer_order <= $target_order
    AND ($min_z IS NULL OR r.z >= $min_z)
  RETURN collect([b.uid, b.layer_order, r.z, r.value]) AS out
}
RETURN a.uid AS a, out
"""


def _best(partials: list[_Partial], k: int, both_ends: bool) -> list[_Partial]:
    """The k best partial paths by (score desc, path asc); with ``both_ends`` also the k
    lowest scores (a negative edge value turns the lowest product into the highest)."""
    top = heapq.nsmallest(k, partials, key=lambda p: (-p[0], p[1]))
    if not both_ends:
        return top
    low = heapq.nsmallest(k, partials, key=lambda p: (p[0], p[1]))
    return list({p[1]: p for p in top + low}.values())


def strongest_paths(graph: Graph, run_id: str, source_uid: str | None,
                    target_layer: str, condition: str = "clean", k: int = 10,
                    score: str = "sum_z", *, source_layer: str | None = None,
                    min_z: float | None = None, batch_size: int = 5000) -> pd.DataFrame:
    """The exact k strongest live paths from ``source_uid`` (or every neuron of
    ``source_layer``) to any neuron of ``target_layer``, by a layer-by-layer dynamic programme.

    Same path rules, score and tie-break as the ``pathways`` query (edges with z >= ``min_z``,
    never past the target layer; ``score`` 'sum_z' or 'prod_value'; ties by the uid list), but
    each neuron keeps only its k best partial paths (for 'prod_value' also its k lowest, so
    negative edge values stay exact), so the work is O(edges x k) instead of O(paths). Edges
    are fetched per layer step in read transactions of ``batch_size`` source neurons.
    Returns the columns of ``pathways`` without ``candidates`` / ``exhaustive``.
    """
    values = coerce_params("pathways", {
        "run_id": run_id, "uid": source_uid, "source_layer": source_layer,
        "target_layer": target_layer, "condition": condition, "k": k, "score": score,
        "min_z": min_z})
    product = values["score"] == "prod_value"
    start = graph.read(_DP_START, values, what="strongest_paths").records
    if not start:
        _explain_empty(graph, values)
        return pd.DataFrame(columns=PATH_COLUMNS)
    target_order = start[0]["target_order"]
    pending: dict[int, dict[str, list[_Partial]]] = {}
    for rec in start:
        init = 1.0 if product else 0.0
        pending.setdefault(rec["layer_order"], {})[rec["uid"]] = [(init, (rec["uid"],), (), ())]
    finished: list[_Partial] = []
    k, cap = values["k"], max(4 * values["k"], 256)
    while pending:
        order = min(pending)
        frontier = pending.pop(order)
        if order >= target_order:
            continue
        uids = sorted(frontier)
        for i in range(0, len(uids), batch_size):
            step = {**values, "uids": uids[i:i + batch_size], "target_order": target_order}
            for rec in graph.read(_DP_STEP, step, what="strongest_paths").records:
                partials = frontier[rec["a"]]
                for b, b_order, z, v in rec["out"]:
                    grown = [((s * v) if product else (s + z), path + (b,), zs + (z,), vs + (v,))
                             for s, path, zs, vs in partials]
                    if b_order == target_order:
                        finished.extend(grown)
                        if len(finished) > cap:
                            finished = _best(finished, k, False)
                    else:
                        slot = pending.setdefault(b_order, {}).setdefault(b, [])
                        slot.extend(grown)
                        if len(slot) > cap:
                            slot[:] = _best(slot, k, product)
        for slot_map in pending.values():
            for b, slot in slot_map.items():
                if len(slot) > 2 * k:
                    slot_map[b] = _best(slot, k, product)
    finished = _best(finished, k, False)
    rows = []
    for rank, (s, path, zs, vs) in enumerate(sorted(finished, key=lambda p: (-p[0], p[1])), 1):
        sum_z, prod_value = 0.0, 1.0
        for z, v in zip(zs, vs, strict=True):
            sum_z, prod_value = sum_z + z, prod_value * v
        rows.append([rank, path[0], path[-1], len(zs), s, sum_z, prod_value, min(zs),
                     list(path), list(zs), list(vs)])
    return pd.DataFrame(rows, columns=PATH_COLUMNS)
