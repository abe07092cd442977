"""Reading a run back from Neo4j: the whole graph as plain values, edge counts, table sizes."""

from __future__ import annotations

import json
from pathlib import Path

import neo4j
import pyarrow.parquet as pq

from fcgraph.graph.connection import Graph


def graph_dump(graph: Graph, run_id: str) -> dict[str, list]:
    """Every node and live edge of a run, as sorted plain values (gen excluded)."""
    nodes = graph.driver.execute_query(
        "MATCH (n) WHERE n.run_id = $run_id AND NOT n:IngestBatch "
        "RETURN labels(n) AS labels, properties(n) AS props", run_id=run_id).records
    node_rows = sorted(json.dumps([r["labels"], {k: v for k, v in r["props"].items()
                                                 if k not in ("gen", "max_gen", "created_at",
                                                              "loaded_at")}],
                                  sort_keys=True, default=str) for r in nodes)
    edges = graph.driver.execute_query(
        "MATCH (a:Neuron {run_id: $run_id})-[r:FC]->(b) "
        "RETURN a.uid AS a, b.uid AS b, properties(r) AS props", run_id=run_id).records
    edge_rows = sorted(json.dumps([r["a"], r["b"], {k: v for k, v in r["props"].items()
                                                    if k != "gen"}], sort_keys=True)
                       for r in edges)
    structure = graph.driver.execute_query(
        "MATCH (x {run_id: $run_id})-[r:HAS_LAYER|FEEDS|HAS_CONDITION]->(y) "
        "RETURN x.uid AS x, type(r) AS t, y.uid AS y", run_id=run_id).records
    return {"nodes": node_rows, "edges": edge_rows,
            "structure": sorted((str(r["x"]), r["t"], r["y"]) for r in structure)}


def live_edge_count(graph: Graph, run_id: str, condition: str) -> int:
    return graph.driver.execute_query(
        "MATCH (c:Condition {run_id: $run_id, name: $condition}) "
        "MATCH (:Neuron {run_id: $run_id})-[r:FC]->() "
        "WHERE r.condition = $condition AND r.gen = c.gen RETURN count(r) AS n",
        run_id=run_id, condition=condition,
        routing_=neo4j.RoutingControl.READ).records[0]["n"]


def all_edge_count(graph: Graph, run_id: str) -> int:
    return graph.driver.execute_query("MATCH (:Neuron {run_id: $run_id})-[r:FC]->() RETURN count(r) AS n",
                                run_id=run_id).records[0]["n"]


def table_rows(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows
