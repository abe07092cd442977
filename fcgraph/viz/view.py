"""The offline view: one self-contained HTML page of a subgraph, drawn on a zoomable canvas.

Three subgraphs can be read from Neo4j (READ sessions, parameters only):

- :func:`neuron_subgraph`: a neuron, its 1FC group (live in-edges) and its downstream targets
  (live out-edges), strongest ``limit`` of each per condition;
- :func:`pathway_subgraph`: the ``k`` strongest paths from a neuron to a target layer
  (:func:`fcgraph.graph.queries.strongest_paths`, exact);
- :func:`layer_pair_subgraph`: the strongest ``limit`` live edges from one layer to another.

:func:`render_html` writes the page: the data as inline JSON with every neuron's position
(:func:`fcgraph.viz.layout.layout`: layers in columns, conv layers by channel block and spatial
position), the vendored graph library Cytoscape.js (``resources/vendor/cytoscape``, MIT, its
licence in the file's header and beside it) and fcgraph's script ``resources/view.js``, which
draws it on a canvas with zoom, pan, search by neuron, filters by condition, z and layer, and a
legend that names every swatch. No network, no server, nothing loaded from outside the file.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j

from fcgraph.graph import queries
from fcgraph.graph.connection import Graph
from fcgraph.io import atomic_write_text, plain
from fcgraph.paths import RESOURCES_DIR
from fcgraph.viz.layout import layout

#: the vendored graph library, inlined into every page (MIT; its LICENSE lies beside it)
LIBRARY = RESOURCES_DIR / "vendor" / "cytoscape" / "cytoscape.min.js"


@dataclass
class Subgraph:
    """Nodes (every property, keyed by uid), FC edges and layer shapes of one view."""

    run_id: str
    title: str
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[dict[str, Any]] = field(default_factory=list)
    focus: list[str] = field(default_factory=list)
    shapes: dict[str, list[int]] = field(default_factory=dict)

    def edge_keys(self) -> set[tuple[str, str, str]]:
        """(pre uid, post uid, condition) of every edge."""
        return {(e["pre"], e["post"], e["condition"]) for e in self.edges}


def _add_nodes(graph: Graph, sub: Subgraph) -> None:
    uids = sorted({e["pre"] for e in sub.edges} | {e["post"] for e in sub.edges} | set(sub.focus))
    for rec in graph.read("""
            UNWIND $uids AS uid
            MATCH (n:Neuron {uid: uid}) WHERE n.run_id = $run_id
            RETURN properties(n) AS props""", {"uids": uids, "run_id": sub.run_id},
            what="reading the neurons").records:
        props = dict(rec["props"])
        sub.nodes[props["uid"]] = props
    layers = sorted({props["layer"] for props in sub.nodes.values()})
    for rec in graph.read("""
            MATCH (l:Layer {run_id: $run_id}) WHERE l.name IN $layers
            RETURN l.name AS name, l.shape AS shape""", {"run_id": sub.run_id, "layers": layers},
            what="reading the layer shapes").records:
        sub.shapes[rec["name"]] = [int(d) for d in rec["shape"]]


_EDGE_ROW = """RETURN pre, post, c.name AS condition, r.z AS z, r.value AS value,
       r.cofire AS cofire, r.null_mean AS null_mean, r.null_sd AS null_sd"""


def _edges(records: list[neo4j.Record]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for rec in records:
        row = dict(rec)
        key = (row["pre"], row["post"], row["condition"])
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def neuron_subgraph(graph: Graph, run_id: str, uid: str, conditions: Sequence[str] = ("clean",),
                    *, limit: int = 200) -> Subgraph:
    """A neuron with its 1FC group (in-edges) and downstream targets (out-edges)."""
    queries.check_run_names(graph, run_id, "RUN_ID", conditions={"--condition": conditions},
                            neurons={"UID": uid})
    records = graph.read("""
        MATCH (n:Neuron {uid: $uid}) WHERE n.run_id = $run_id
        MATCH (c:Condition {run_id: $run_id}) WHERE c.name IN $conditions
        CALL (n, c) {
          MATCH (a:Neuron)-[r:FC]->(n) WHERE r.condition = c.name AND r.gen = c.gen
          RETURN a.uid AS pre, n.uid AS post, r ORDER BY r.z DESC LIMIT $limit
          UNION
          MATCH (n)-[r:FC]->(b:Neuron) WHERE r.condition = c.name AND r.gen = c.gen
          RETURN n.uid AS pre, b.uid AS post, r ORDER BY r.z DESC LIMIT $limit
        }
        """ + _EDGE_ROW, {"uid": uid, "run_id": run_id, "conditions": list(conditions),
                          "limit": limit}, what="reading the subgraph").records
    sub = Subgraph(run_id, f"neuron {uid} ({', '.join(conditions)})", edges=_edges(records),
                   focus=[uid])
    _add_nodes(graph, sub)
    return sub


def layer_pair_subgraph(graph: Graph, run_id: str, pre_layer: str, post_layer: str,
                        conditions: Sequence[str] = ("clean",), *, limit: int = 500) -> Subgraph:
    """The strongest ``limit`` live edges (per condition) from ``pre_layer`` to ``post_layer``."""
    queries.check_run_names(graph, run_id, "RUN_ID", conditions={"--condition": conditions},
                            layers={"LAYER": [pre_layer, post_layer]})
    records = graph.read("""
        MATCH (c:Condition {run_id: $run_id}) WHERE c.name IN $conditions
        CALL (c) {
          MATCH (a:Neuron {run_id: $run_id, layer: $pre_layer})-[r:FC]->(b:Neuron)
          WHERE b.layer = $post_layer AND r.condition = c.name AND r.gen = c.gen
          RETURN a.uid AS pre, b.uid AS post, r ORDER BY r.z DESC, pre, post LIMIT $limit
        }
        """ + _EDGE_ROW, {"run_id": run_id, "conditions": list(conditions),
                          "pre_layer": pre_layer, "post_layer": post_layer, "limit": limit},
                         what="reading the subgraph").records
    sub = Subgraph(run_id, f"{pre_layer} -> {post_layer} ({', '.join(conditions)})",
                   edges=_edges(records))
    _add_nodes(graph, sub)
    return sub


def pathway_subgraph(graph: Graph, run_id: str, uid: str, target_layer: str,
                     conditions: Sequence[str] = ("clean",), *, k: int = 10,
                     min_z: float | None = None) -> Subgraph:
    """The union of the ``k`` strongest paths (per condition) from ``uid`` to ``target_layer``."""
    queries.check_run_names(graph, run_id, "RUN_ID", conditions={"--condition": conditions},
                            neurons={"UID": uid}, layers={"LAYER": target_layer})
    edges: list[dict[str, Any]] = []
    for condition in conditions:
        paths = queries.strongest_paths(graph, run_id, uid, target_layer, condition, k=k,
                                        min_z=min_z)
        for path, zs, values in zip(paths["path"], paths["z"], paths["value"], strict=True):
            for i, (z, value) in enumerate(zip(zs, values, strict=True)):
                edges.append({"pre": path[i], "post": path[i + 1], "condition": condition,
                              "z": z, "value": value})
    sub = Subgraph(run_id, f"pathways {uid} -> {target_layer} ({', '.join(conditions)})",
                   edges=_dedupe(edges), focus=[uid])
    _add_nodes(graph, sub)
    return sub


def _dedupe(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for edge in edges:
        seen.setdefault((edge["pre"], edge["post"], edge["condition"]), edge)
    return list(seen.values())


def _plain(value: Any) -> Any:
    """:func:`fcgraph.io.plain`, with any other object (a date, a spatial point) as its text."""
    value = plain(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def graph_payload(graph: Subgraph) -> dict[str, Any]:
    """The JSON the page embeds.

    Returns
    -------
    dict
        ``run_id``, ``title``, ``focus`` (uids); ``nodes``: uid, layer, order, idx, x, y (model
        units, :func:`fcgraph.viz.layout.layout`), props; ``edges``: pre, post, condition, z,
        ... (those whose two neurons are in the view); ``layers``: name, order, shape, in layer
        order; ``labels``: the layout's headings.
    """
    placed = layout(graph.nodes, graph.shapes)
    nodes = []
    for uid, props in sorted(graph.nodes.items(),
                             key=lambda kv: (kv[1].get("layer_order", 0), kv[1].get("idx", 0))):
        x, y = placed.positions[uid]
        nodes.append({"uid": uid, "layer": props.get("layer"),
                      "order": props.get("layer_order", 0), "idx": props.get("idx", 0),
                      "x": x, "y": y, "props": {k: _plain(v) for k, v in sorted(props.items())}})
    edges = [{k: _plain(v) for k, v in e.items()} for e in graph.edges
             if e["pre"] in graph.nodes and e["post"] in graph.nodes]
    layers = sorted({(n["order"], n["layer"]) for n in nodes})
    return {"run_id": graph.run_id, "title": graph.title, "nodes": nodes, "edges": edges,
            "focus": graph.focus, "labels": placed.labels,
            "layers": [{"name": name, "order": order, "shape": graph.shapes.get(name)}
                       for order, name in layers]}


def render_html(graph: Subgraph) -> str:
    """The self-contained page (inline JSON, CSS and script; no external reference)."""
    payload = json.dumps(graph_payload(graph), allow_nan=False, separators=(",", ":"))
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    title = html.escape(f"fcgraph: {graph.title}")
    parts = {"@CSP@": _CSP, "@TITLE@": title, "@DATA@": payload,
             "@LIBRARY@": LIBRARY.read_text(encoding="utf-8"),
             "@SCRIPT@": (RESOURCES_DIR / "view.js").read_text(encoding="utf-8")}
    return re.sub("|".join(parts), lambda m: parts[m.group(0)], _PAGE)  # one pass: data stays data


def write_view(graph: Subgraph, out: Path) -> Path:
    """Write the page to ``out`` (atomically) and return it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, render_html(graph))
    return out


#: the page may load nothing: no network, no file other than itself
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="@CSP@">
<title>@TITLE@</title>
<style>
html,body{height:100%}
body{font:13px system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa;
 display:flex;flex-direction:column}
header{padding:8px 14px;background:#fff;border-bottom:1px solid #ddd}
header h1{font-size:16px;margin:0 0 3px}
#meta{color:#555}
#controls{display:flex;gap:14px;flex-wrap:wrap;align-items:center;margin-top:6px}
#controls label{white-space:nowrap}
#layers{display:flex;gap:8px;flex-wrap:wrap}
#search-status{color:#555}
#legend{display:flex;gap:14px;flex-wrap:wrap;margin-top:6px;align-items:center}
.sw{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:4px;vertical-align:-1px;
 border:1px solid #0004}
.sw.line{border-radius:0;height:4px;width:18px;vertical-align:2px;border:0}
.sw.ring{background:#fff;border:3px solid #000;width:7px;height:7px}
.sw.ring.found{border-color:#e6007e}
#cy{flex:1;min-height:300px;position:relative}
#tip{position:fixed;display:none;background:#fff;border:1px solid #999;padding:6px 8px;z-index:10;
 font:12px ui-monospace,monospace;white-space:pre;pointer-events:none;box-shadow:0 2px 6px #0003}
</style></head>
<body>
<header><h1 id="title"></h1><div id="meta"></div>
<div id="controls">
<label>neuron <input id="search" type="search" size="24" placeholder="uid, layer/idx or idx"></label>
<span id="search-status"></span>
<label>condition <select id="condition"></select></label>
<label>min z <input id="minz" type="range"> <span id="minz-value"></span></label>
<label>edge colour <select id="edge-colour"><option value="condition">condition</option>
<option value="z">z</option></select></label>
<button id="fit" type="button">fit</button>
<span id="layers"></span>
</div>
<div id="legend"></div></header>
<div id="cy"></div><div id="tip"></div>
<script id="fcgraph-data" type="application/json">@DATA@</script>
<script>@LIBRARY@</script>
<script>@SCRIPT@</script>
</body></html>
"""
