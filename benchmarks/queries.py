"""Every named query, timed on a loaded graph (the demo's full graph: 25.6 M edges).

Connects to the configured server (NEO4J_URI and credentials, else fcgraph's local one), picks
a run (``--run-id``, default: the run with most live edges) and fills each query's parameters
from the graph itself: the clean condition, the first perturbed one, the neuron with the most
clean in-edges (ensemble), the first layer's out-degree hub (pathways, to the last layer), a
layer of the largest pair (hubs with a layer). Each query runs once cold, then ``--repeat``
times; the warm median is its figure. The baseline, in the same run: one scan of every live edge
of the clean condition reading one property (``sum(r.z)``), the cost of touching each edge once.

Limits (issue 14): none over 60 s; the per-neuron queries (ensemble, pathways from a neuron,
hubs of one layer) under 1 s. The Neo4j Browser guide's and Bloom's own queries (bounded: none
returns more than a few hundred paths to a canvas) are timed too.

    .venv/bin/python benchmarks/queries.py [--run-id RUN] [--out benchmarks/results/queries.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import neo4j

from fcgraph.errors import FcgraphError
from fcgraph.graph.connection import Graph, resolve_connection
from fcgraph.graph.queries import run_query
from fcgraph.viz.bloom import SCENE_ACTIONS, SEARCH_PHRASES
from fcgraph.viz.browser import GUIDE_NEURONS

PER_NEURON_LIMIT_S = 1.0
QUERY_LIMIT_S = 60.0


def _one(driver: neo4j.Driver, text: str, **params: Any) -> dict[str, Any]:
    records = driver.execute_query(text, params, routing_=neo4j.RoutingControl.READ).records
    return dict(records[0]) if records else {}


def pick_parameters(driver: neo4j.Driver, run_id: str | None) -> dict[str, Any]:
    """The run, its conditions and the neurons and layers the queries are asked about."""
    if run_id is None:
        run_id = _one(driver, """
            MATCH (r:Run)-[:HAS_CONDITION]->(c:Condition) WHERE c.gen > 0
            WITH r, sum(c.n_edges) AS edges
            RETURN r.run_id AS run_id ORDER BY edges DESC LIMIT 1""")["run_id"]
    conditions = [r["name"] for r in driver.execute_query(
        "MATCH (c:Condition {run_id: $run_id}) WHERE c.gen > 0 RETURN c.name AS name ORDER BY name",
        run_id=run_id, routing_=neo4j.RoutingControl.READ).records]
    perturbed = next(c for c in conditions if c != "clean")
    layers = [r["name"] for r in driver.execute_query(
        "MATCH (:Run {run_id: $run_id})-[:HAS_LAYER]->(l:Layer) RETURN l.name AS name ORDER BY l.order",
        run_id=run_id, routing_=neo4j.RoutingControl.READ).records]
    # the largest degrees over every condition, from the store's degree counts (no edge scan)
    hub = _one(driver, """
        MATCH (n:Neuron {run_id: $r}) WITH n, COUNT { (n)<-[:FC]-() } AS degree
        RETURN n.uid AS uid, n.layer AS layer, elementId(n) AS id, degree
        ORDER BY degree DESC LIMIT 1""", r=run_id)
    source = _one(driver, """
        MATCH (n:Neuron {run_id: $r, layer: $layer}) WITH n, COUNT { (n)-[:FC]->() } AS degree
        RETURN n.uid AS uid, degree ORDER BY degree DESC LIMIT 1""", r=run_id, layer=layers[0])
    return {"run_id": run_id, "conditions": conditions, "ensemble_id": hub["id"],
            "perturbed": perturbed, "layers": layers, "ensemble_uid": hub["uid"],
            "ensemble_degree_all_conditions": hub["degree"], "hub_layer": hub["layer"],
            "source_uid": source["uid"], "source_degree_all_conditions": source["degree"]}


def cases(p: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], float]]:
    """(label, query, parameters, limit in seconds) for every named query."""
    run, pert, last = p["run_id"], p["perturbed"], p["layers"][-1]
    other = "permute:layer" if "permute:layer" in p["conditions"] else pert
    return [
        ("ensemble (the largest 1FC group)", "ensemble", {"uid": p["ensemble_uid"]}, PER_NEURON_LIMIT_S),
        ("pathways (first layer's hub -> last layer)", "pathways",
         {"uid": p["source_uid"], "target_layer": last}, PER_NEURON_LIMIT_S),
        (f"hubs (layer {p['hub_layer']}, in)", "hubs",
         {"layer": p["hub_layer"], "direction": "in"}, PER_NEURON_LIMIT_S),
        ("hubs (every layer)", "hubs", {}, QUERY_LIMIT_S),
        ("layer_summary (every condition)", "layer_summary", {}, QUERY_LIMIT_S),
        (f"edge_loss ({pert})", "edge_loss", {"condition": pert}, QUERY_LIMIT_S),
        (f"lost_pathways ({pert})", "lost_pathways", {"condition": pert}, QUERY_LIMIT_S),
        (f"compare_runs (clean vs {other}, same run)", "compare_runs",
         {"other_run_id": run, "other_condition": other}, QUERY_LIMIT_S),
        ("gain_by_size", "gain_by_size", {}, QUERY_LIMIT_S),
        ("top_ensembles", "top_ensembles", {}, QUERY_LIMIT_S),
    ]


def canvas_cases(p: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, cypher, parameters) of the Browser guide's and Bloom's own queries."""
    run = p["run_id"]
    values = {"uid": p["ensemble_uid"], "run": run, "layer": p["layers"][-1],
              "condition": f"{run}/{p['perturbed']}"}
    out = [("Browser guide: neurons to try", GUIDE_NEURONS, {"run_id": run})]
    for name, _, cypher, params in SEARCH_PHRASES:
        out.append((f"Bloom: {name}", cypher, {k: values[k] for k, _, _ in params}))
    for name, cypher in SCENE_ACTIONS:
        out.append((f"Bloom: {name} (the hub)", cypher, {"nodes": [p["ensemble_id"]]}))
    return out


def timed(fn, repeat: int) -> tuple[float, float, Any]:
    """(cold seconds, warm median seconds, last answer)."""
    t0 = time.perf_counter()
    answer = fn()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        answer = fn()
        warm.append(time.perf_counter() - t0)
    return cold, statistics.median(warm) if warm else cold, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", help="the run (default: the one with most live edges)")
    parser.add_argument("--repeat", type=int, default=1, help="warm repeats per query")
    parser.add_argument("--timeout", type=float, default=2 * QUERY_LIMIT_S,
                        help="seconds after which a query is stopped and reported as over it")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/queries.json"))
    args = parser.parse_args()
    conn = resolve_connection()
    rows = []
    with Graph.open(conn) as graph:
        driver = graph.driver
        p = pick_parameters(driver, args.run_id)
        edges = _one(driver, "MATCH (c:Condition {run_id: $r}) WHERE c.gen > 0 "
                             "RETURN sum(c.n_edges) AS n", r=p["run_id"])["n"]
        print(f"run {p['run_id']}: {edges:,} live edges; conditions {', '.join(p['conditions'])}",
              flush=True)
        scan = """MATCH (c:Condition {run_id: $run_id, name: 'clean'})
                  MATCH (n:Neuron {run_id: $run_id})-[r:FC]->() WHERE r.gen = c.gen
                  RETURN count(r) AS edges, sum(r.z) AS z"""
        cold, base, ans = timed(lambda: _one(driver, scan, run_id=p["run_id"]), args.repeat)
        print(f"{'baseline: scan of the clean edges':52s} {cold:7.2f} {base:7.2f} s "
              f"({ans['edges']:,} edges)", flush=True)
        for label, name, params, limit in cases(p):
            try:
                cold, warm, frame = timed(lambda n=name, q=params: run_query(
                    graph, n, {"run_id": p["run_id"], **q}, timeout=args.timeout),
                    args.repeat)
            except FcgraphError as exc:  # stopped at the timeout
                rows.append({"label": label, "query": name, "params": params, "cold_s": None,
                             "warm_s": None, "limit_s": limit, "within_limit": False,
                             "error": str(exc)})
                print(f"{label:52s} over {args.timeout:.0f} s: {exc}", flush=True)
                save(args.out, p, edges, ans, base, args.repeat, rows)
                continue
            ok = warm <= limit
            rows.append({"label": label, "query": name, "params": params, "cold_s": round(cold, 3),
                         "warm_s": round(warm, 3), "limit_s": limit, "within_limit": ok,
                         "rows": len(frame), "vs_scan": round(warm / base, 3)})
            print(f"{label:52s} {cold:7.2f} {warm:7.2f} s  {len(frame):>6} rows  "
                  f"{warm / base:6.2f}x scan  {'ok' if ok else 'OVER ' + str(limit) + ' s'}",
                  flush=True)
            save(args.out, p, edges, ans, base, args.repeat, rows)
        for label, cypher, params in canvas_cases(p):
            try:
                cold, warm, records = timed(lambda c=cypher, q=params: driver.execute_query(
                    neo4j.Query(c, timeout=args.timeout), q,
                    routing_=neo4j.RoutingControl.READ).records, args.repeat)
            except neo4j.exceptions.Neo4jError as exc:
                rows.append({"label": label, "query": "canvas", "params": params, "cold_s": None,
                             "warm_s": None, "limit_s": QUERY_LIMIT_S, "within_limit": False,
                             "error": exc.code})
                print(f"{label:52s} over {args.timeout:.0f} s ({exc.code})", flush=True)
                continue
            rows.append({"label": label, "query": "canvas", "params": params,
                         "cold_s": round(cold, 3), "warm_s": round(warm, 3),
                         "limit_s": QUERY_LIMIT_S, "within_limit": warm <= QUERY_LIMIT_S,
                         "rows": len(records), "vs_scan": round(warm / base, 3)})
            print(f"{label:52s} {cold:7.2f} {warm:7.2f} s  {len(records):>6} rows  "
                  f"{warm / base:6.2f}x scan", flush=True)
            save(args.out, p, edges, ans, base, args.repeat, rows)
    print(f"-> {args.out}")


def save(out: Path, p: dict[str, Any], edges: int, scan: dict[str, Any], base: float, repeat: int,
         rows: list[dict[str, Any]]) -> None:
    """Write the results so far (a long run keeps what it measured)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "run_id": p["run_id"], "live_edges": edges, "parameters": p, "repeat": repeat,
        "baseline": {"what": "scan of the clean condition's live edges, sum(r.z)",
                     "edges": scan["edges"], "warm_s": round(base, 3)},
        "queries": rows, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d")}, indent=2) + "\n")


if __name__ == "__main__":
    main()
