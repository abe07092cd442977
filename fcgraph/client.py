"""A neuprint-shaped Python API to the connectome in Neo4j: :class:`Client` and :class:`NeuronCriteria`.

::

    import fcgraph

    with fcgraph.Client(run="demo-sew-small-digits") as client:   # NEO4J_* or the local server
        neurons = client.fetch_neurons(fcgraph.NeuronCriteria(layer="fc1.sn", rate=(0.05, None)))
        ensembles = client.fetch_ensemble(neurons.uid.head(3).tolist(), condition="uniform:0.2")
        edges = client.fetch_edges(sources=fcgraph.NeuronCriteria(layer="fc1.sn", idx=[0, 1]))
        table = client.fetch_custom("MATCH (n:Neuron {run_id: $run}) RETURN count(n) AS n",
                                    run=client.run)

Every ``fetch_*`` method returns a pandas DataFrame (``fetch_adjacencies``: two), runs in read
transactions, and accepts neurons as one uid, a list of uids or a :class:`NeuronCriteria`.
Edge columns name the two ends with neuPrint's suffixes: ``uid_pre``, ``layer_pre``,
``idx_pre``, ..., ``uid_post``. Answers that count loaded edges carry ``attrs["complete"]`` and
``attrs["warning"]`` when the graph holds only a browsing subset of a condition's edges.

The named queries behind ``fcgraph query`` (:mod:`fcgraph.graph.queries`) do the work where one
exists; criteria become fixed Cypher fragments whose values (and property names) travel only as
query parameters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fcgraph.errors import BadArgument, FcgraphError
from fcgraph.graph import queries
from fcgraph.graph.connection import Graph, resolve_connection
from fcgraph.graph.ingest import list_runs

#: A neuron property name a criterion may test (they reach Cypher as parameters all the same).
_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: The Neuron properties a criterion names through its own fields (not through ``properties``).
_OWN_FIELDS = ("uid", "layer", "idx", "run_id")


def _listed(value: Any, kind: type, name: str) -> list[Any] | None:
    """``value`` as a list of ``kind`` (one value, or any sequence of them), or None."""
    if value is None:
        return None
    values = [value] if isinstance(value, kind) or not isinstance(value, Sequence) else list(value)
    wrong = [v for v in values if not isinstance(v, kind) or isinstance(v, bool)]
    if wrong:
        raise BadArgument(name, f"expected {kind.__name__} values, got {wrong[0]!r}")
    if not values:
        raise BadArgument(name, "is empty: give at least one value, or None for any")
    return values


@dataclass(frozen=True)
class NeuronCriteria:
    """Which neurons of a run: every field that is given must hold (AND); a list matches any
    of its values (OR).

    Parameters
    ----------
    uid : str or sequence of str, optional
        Neuron uids, ``"<run_id>/<layer>/<idx>"``.
    layer : str or sequence of str, optional
        Layer names (e.g. ``"fc1.sn"``).
    idx : int or sequence of int, optional
        Flat neuron indices within their layer (channel-major for conv layers).
    properties : mapping of str to value or (low, high), optional
        Any other Neuron property (``rate``, ``spike_count``, ``channel``, ``gain``,
        ``group_size``, ``analysed``, ...): a value it must equal, or a closed range
        ``(low, high)`` where None leaves that end open. Also accepted as keyword arguments:
        ``NeuronCriteria(layer="fc1.sn", rate=(0.05, None))``.
    run : str, optional
        The run (default: the client's).
    """

    uid: str | Sequence[str] | None = None
    layer: str | Sequence[str] | None = None
    idx: int | Sequence[int] | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    run: str | None = None

    def __init__(self, uid: str | Sequence[str] | None = None, layer: str | Sequence[str] | None = None,
                 idx: int | Sequence[int] | None = None, properties: Mapping[str, Any] | None = None,
                 run: str | None = None, **more: Any) -> None:
        props = {**(properties or {}), **more}
        for key, value in props.items():
            if not _PROPERTY.match(key) or key in _OWN_FIELDS:
                raise BadArgument("NeuronCriteria", f"{key!r} is not a property a criterion can test"
                                  + (f" (use the {key} field)" if key in _OWN_FIELDS else ""))
            if isinstance(value, tuple) and (len(value) != 2 or value == (None, None)):
                raise BadArgument(f"NeuronCriteria {key}", "a range is (low, high) with at least "
                                                           "one end given")
        object.__setattr__(self, "uid", _listed(uid, str, "NeuronCriteria uid"))
        object.__setattr__(self, "layer", _listed(layer, str, "NeuronCriteria layer"))
        object.__setattr__(self, "idx", _listed(idx, int, "NeuronCriteria idx"))
        object.__setattr__(self, "properties", props)
        object.__setattr__(self, "run", run)

    def where(self, var: str, tag: str) -> tuple[str, dict[str, Any]]:
        """A Cypher condition on node variable ``var`` (its parameters named ``tag``...) and its
        parameters; ``"true"`` when the criteria are empty. The text holds no user value."""
        parts, params = [], {}
        for name, column in (("uid", "uid"), ("layer", "layer"), ("idx", "idx")):
            values = getattr(self, name)
            if values is not None:
                parts.append(f"{var}.{column} IN ${tag}_{name}")
                params[f"{tag}_{name}"] = values
        for i, (key, value) in enumerate(sorted(self.properties.items())):
            params[f"{tag}_k{i}"] = key
            if isinstance(value, tuple):
                low, high = value
                if low is not None:
                    parts.append(f"{var}[${tag}_k{i}] >= ${tag}_lo{i}")
                    params[f"{tag}_lo{i}"] = low
                if high is not None:
                    parts.append(f"{var}[${tag}_k{i}] <= ${tag}_hi{i}")
                    params[f"{tag}_hi{i}"] = high
            else:
                parts.append(f"{var}[${tag}_k{i}] = ${tag}_eq{i}")
                params[f"{tag}_eq{i}"] = value
        return (" AND ".join(parts) or "true"), params


def as_criteria(neurons: str | Sequence[str] | NeuronCriteria | None) -> NeuronCriteria:
    """One uid, a list of uids, criteria or None (every neuron) as :class:`NeuronCriteria`."""
    if neurons is None:
        return NeuronCriteria()
    if isinstance(neurons, NeuronCriteria):
        return neurons
    return NeuronCriteria(uid=neurons)


def suffix_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename ``pre_x`` / ``post_x`` columns to neuPrint's ``x_pre`` / ``x_post`` (attrs kept)."""
    renamed = {c: f"{c[len(end) + 1:]}_{end}" for c in frame.columns for end in ("pre", "post")
               if c.startswith(end + "_")}
    out = frame.rename(columns=renamed)
    out.attrs.update(frame.attrs)
    return out


_EDGE_RETURN = """RETURN a.uid AS uid_pre, a.layer AS layer_pre, a.idx AS idx_pre,
       b.uid AS uid_post, b.layer AS layer_post, b.idx AS idx_post, $condition AS condition,
       r.value AS value, r.z AS z, r.cofire AS cofire, r.null_mean AS null_mean,
       r.null_sd AS null_sd, r.p AS p, r.q AS q
ORDER BY z DESC, uid_pre, uid_post"""


class Client:
    """A connection to the graph and a default run, with neuprint-like ``fetch_*`` methods.

    Parameters
    ----------
    uri, user, password, database : str, optional
        As the CLI's ``--uri`` ... options; unset ones come from ``NEO4J_URI``, ``NEO4J_USER``,
        ``NEO4J_PASSWORD``, ``NEO4J_DATABASE``, then the local server's credentials (see
        :func:`fcgraph.graph.connection.resolve_connection`).
    run : str, optional
        The run the methods use when not told another (default: the graph's only run).
    state_dir : path, optional
        The local server's state folder (default: ``FCGRAPH_STATE_DIR`` or ``.fcgraph``).
    graph : Graph, optional
        An open graph handle to use instead of connecting (it is not closed by :meth:`close`).
    """

    def __init__(self, uri: str | None = None, user: str | None = None,
                 password: str | None = None, database: str | None = None, *,
                 run: str | None = None, state_dir: str | os.PathLike[str] | None = None,
                 graph: Graph | None = None) -> None:
        self._owns = graph is None
        self.graph = graph if graph is not None else Graph.open(
            resolve_connection(uri, user, password, database, state_dir))
        self._run = run

    def close(self) -> None:
        """Close the connection (unless the client was given an open graph)."""
        if self._owns:
            self.graph.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.graph.driver.get_server_info().address!r}, run={self._run!r})"

    # -------------------------------------------------------------------------- runs

    def fetch_runs(self) -> pd.DataFrame:
        """The runs in the graph: run_id, schema_version, conditions, edges (live)."""
        return list_runs(self.graph)

    @property
    def run(self) -> str:
        """The default run: the one given, else the graph's only run."""
        if self._run is None:
            runs = self.fetch_runs().run_id.tolist()
            if len(runs) != 1:
                raise FcgraphError("which run? give Client(run=...) or run=...; the graph holds "
                                   + (f"{len(runs)} runs: {', '.join(runs[:10])}" if runs else "none"))
            self._run = runs[0]
        return self._run

    def _run_of(self, run: str | None, criteria: NeuronCriteria | None = None) -> str:
        return run or (criteria.run if criteria is not None and criteria.run else None) or self.run

    # -------------------------------------------------------------------------- neurons

    def fetch_neurons(self, neurons: str | Sequence[str] | NeuronCriteria | None = None, *,
                      run: str | None = None) -> pd.DataFrame:
        """Neurons and all their properties, ordered by layer order and index.

        Returns
        -------
        pandas.DataFrame
            One row per neuron: uid, run_id, layer, layer_order, idx, channel, y, x, rate,
            spike_count, silent_in, and whatever else the graph holds on its node (analysis
            properties such as gain, group_size; degree lists per condition).
        """
        criteria = as_criteria(neurons)
        run_id = self._run_of(run, criteria)
        where, params = criteria.where("n", "n")
        records = self.graph.read(
            f"MATCH (n:Neuron {{run_id: $run_id}}) WHERE {where} "
            "RETURN properties(n) AS n ORDER BY n.layer_order, n.idx",
            {"run_id": run_id, **params}, what="fetch_neurons").records
        frame = pd.DataFrame([dict(r["n"]) for r in records])
        if frame.empty:
            self._check(run_id, criteria)
            return pd.DataFrame(columns=["uid", "run_id", "layer", "layer_order", "idx"])
        first = [c for c in ("uid", "run_id", "layer", "layer_order", "idx", "channel", "y", "x",
                             "rate", "spike_count") if c in frame.columns]
        return frame[first + sorted(c for c in frame.columns if c not in first)]

    def _check(self, run_id: str, criteria: NeuronCriteria | None = None,
               condition: str | None = None) -> None:
        """After an empty answer: a one-line error when the run, a layer or the condition does
        not exist (an empty answer to criteria that exist is an answer)."""
        queries.check_run_names(self.graph, run_id, "run", conditions={"condition": condition},
                                layers={"layer": criteria.layer if criteria else None})

    # -------------------------------------------------------------------------- edges

    def fetch_edges(self, sources: str | Sequence[str] | NeuronCriteria | None = None,
                    targets: str | Sequence[str] | NeuronCriteria | None = None,
                    condition: str = "clean", *, min_z: float | None = None,
                    limit: int | None = None, run: str | None = None) -> pd.DataFrame:
        """The live FC edges from ``sources`` to ``targets`` (None: any neuron) under ``condition``.

        Give ``sources``, ``targets`` or a ``limit`` (the strongest edges first): a whole
        condition can hold millions of edges. An empty answer is checked: a run, condition or
        layer (of either criteria) that the graph does not hold is a one-line error.

        Returns
        -------
        pandas.DataFrame
            One row per edge, strongest (z) first: uid_pre, layer_pre, idx_pre, uid_post,
            layer_post, idx_post, condition, value, z, cofire, null_mean, null_sd, p, q.
            ``attrs["complete"]`` is False (and ``attrs["warning"]`` says why) when the graph
            holds only a subset of the condition's edges.
        """
        if sources is None and targets is None and limit is None:
            raise BadArgument("limit", "give sources, targets or a limit: a whole condition can "
                                       "hold millions of edges")
        pre, post = as_criteria(sources), as_criteria(targets)
        run_id = self._run_of(run, pre if sources is not None else post)
        pre_where, pre_params = pre.where("a", "a")
        post_where, post_params = post.where("b", "b")
        # start from the side that is narrowed (index seek), the other side filters
        if sources is None and targets is not None:
            match = (f"MATCH (b:Neuron {{run_id: $run_id}}) WHERE {post_where} "
                     f"MATCH (a:Neuron)-[r:FC]->(b) WHERE {pre_where} AND ")
        else:
            match = (f"MATCH (a:Neuron {{run_id: $run_id}}) WHERE {pre_where} "
                     f"MATCH (a)-[r:FC]->(b:Neuron) WHERE {post_where} AND ")
        text = ("MATCH (c:Condition {run_id: $run_id, name: $condition}) WITH c.gen AS gen "
                + match + "r.condition = $condition AND r.gen = gen "
                "AND ($min_z IS NULL OR r.z >= $min_z) " + _EDGE_RETURN
                + (" LIMIT $limit" if limit is not None else ""))
        if limit is not None and limit < 1:
            raise BadArgument("limit", f"must be >= 1 (got {limit})")
        params = {"run_id": run_id, "condition": condition, "min_z": min_z, "limit": limit,
                  **pre_params, **post_params}
        result = self.graph.read(text, params, what="fetch_edges")
        frame = queries.records_frame(result)
        if frame.empty:
            queries.check_run_names(self.graph, run_id, "run", conditions={"condition": condition},
                                    layers={"sources": pre.layer, "targets": post.layer})
        warning = queries.loaded_subset_warning(self.graph, [(run_id, condition)])
        frame.attrs.update(complete=warning is None, warning=warning)
        return frame

    def fetch_adjacencies(self, sources: str | Sequence[str] | NeuronCriteria | None = None,
                          targets: str | Sequence[str] | NeuronCriteria | None = None,
                          condition: str = "clean", *, min_z: float | None = None,
                          limit: int | None = None,
                          run: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """neuprint's pair: the neurons at either end of the edges, and the edges
        (:meth:`fetch_edges`)."""
        edges = self.fetch_edges(sources, targets, condition, min_z=min_z, limit=limit, run=run)
        uids = sorted(set(edges.uid_pre) | set(edges.uid_post))
        neurons = self.fetch_neurons(NeuronCriteria(uid=uids), run=run) if uids else \
            pd.DataFrame(columns=["uid", "run_id", "layer", "layer_order", "idx"])
        return neurons, edges

    # -------------------------------------------------------------------------- named queries

    def _uids(self, neurons: str | Sequence[str] | NeuronCriteria, run: str | None) -> list[str]:
        if isinstance(neurons, str):
            return [neurons]
        if isinstance(neurons, NeuronCriteria):
            return self.fetch_neurons(neurons, run=run).uid.tolist()
        return _listed(neurons, str, "neurons") or []

    def fetch_ensemble(self, neurons: str | Sequence[str] | NeuronCriteria,
                       condition: str = "clean", *, min_z: float | None = None,
                       limit: int = 1000, run: str | None = None) -> pd.DataFrame:
        """The 1FC group of each neuron: its live in-edges under ``condition`` (the ``ensemble``
        query per neuron), strongest first within each neuron.

        Returns
        -------
        pandas.DataFrame
            uid_pre, layer_pre, idx_pre, channel_pre, y_pre, x_pre, rate_pre, uid_post,
            layer_post, idx_post, value, z, cofire, null_mean, null_sd, p, q.
        """
        run_id = self._run_of(run, neurons if isinstance(neurons, NeuronCriteria) else None)
        frames = [queries.ensemble(self.graph, run_id, uid, condition, min_z=min_z, limit=limit)
                  for uid in self._uids(neurons, run_id)]
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        out.attrs.update(frames[0].attrs)
        return suffix_columns(out)

    def fetch_pathways(self, source: str | None, target_layer: str, condition: str = "clean",
                       k: int = 10, score: str = "sum_z", *, source_layer: str | None = None,
                       min_z: float | None = None, run: str | None = None) -> pd.DataFrame:
        """The exact ``k`` strongest live paths from neuron ``source`` (or every neuron of
        ``source_layer``) to ``target_layer`` (:func:`fcgraph.graph.queries.strongest_paths`):
        rank, source_uid, target_uid, hops, score, sum_z, prod_value, weakest_z, path, z, value."""
        return queries.strongest_paths(self.graph, self._run_of(run), source, target_layer,
                                       condition, k, score, source_layer=source_layer, min_z=min_z)

    def fetch_edge_loss(self, condition: str, baseline: str = "clean", *,
                        run: str | None = None) -> pd.DataFrame:
        """Per layer pair, every significant edge of ``baseline`` as kept / weakened / silenced
        under ``condition``, and those gained (the ``edge_loss`` query)."""
        return queries.edge_loss(self.graph, self._run_of(run), condition, baseline)

    def fetch_hubs(self, condition: str = "clean", direction: str = "out", top: int = 10, *,
                   layer: str | None = None, run: str | None = None) -> pd.DataFrame:
        """Per layer (or in ``layer``), the ``top`` neurons by in- or out-degree over every
        significant edge (the ``hubs`` query)."""
        return queries.hubs(self.graph, self._run_of(run), condition, direction, top, layer=layer)

    def fetch_layer_summary(self, condition: str | None = None, *,
                            run: str | None = None) -> pd.DataFrame:
        """Per layer pair and condition: neurons, edges, density, degrees, mean z."""
        return queries.layer_summary(self.graph, self._run_of(run), condition)

    def query(self, name: str, **params: Any) -> pd.DataFrame:
        """Any named query of ``fcgraph query --list`` (``run_id`` defaults to the client's run)."""
        if "run_id" in queries.query_params(name) and params.get("run_id") is None:
            params["run_id"] = self.run
        return queries.run_query(self.graph, name, params)

    def fetch_custom(self, cypher: str, *, timeout: float | None = None,
                     **params: Any) -> pd.DataFrame:
        """Run your own Cypher in a read transaction; ``params`` travel as query parameters
        (``$name`` in the text). Returns the records as a DataFrame with the query's columns."""
        result = self.graph.read(cypher, params, timeout=timeout, what="fetch_custom")
        return queries.records_frame(result)
