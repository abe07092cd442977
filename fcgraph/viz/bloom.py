"""Generate the Neo4j Bloom perspective ``cypher/bloom/fcgraph-perspective.json`` from the schema.

Regenerate it with ``python -m fcgraph.viz.bloom`` (``--check`` exits 1 when the file is stale).

What the perspective holds (format of Bloom 2.x exports, ``version`` 2.6.0):

- categories: ``Run``, ``Layer``, ``Condition`` and ``Neuron``. Bloom categories are label-based and
  fcgraph neurons carry one label, so "a category per layer" is done with rules inside ``Neuron``:
  one colour per ``layer_order`` (Browser's ramp), then rule-based colour by the analysis
  properties when a neuron has them (``gain`` as a colour range, the decoding score ``mi_event``
  as a colour range, the 1FC ``group_size`` as a size range). Later rules win in Bloom, so
  analysis colours override layers. ``Layer`` nodes are coloured by their read-out accuracy
  during events.
- relationship types: ``FC`` coloured and sized by ``z`` (a range rule), ``FEEDS``,
  ``HAS_LAYER``, ``HAS_CONDITION``.
- search phrases, each with a condition (a neuron's or layer's uid names its run):
  "ensemble of $uid under $condition", "edges of $uid lost under $condition",
  "hubs of layer $layer under $condition" ($layer a Layer uid), "strongest pathway from $uid to
  layer $layer under $condition" ($layer a layer name) and "edges lost under $condition"
  ($condition a Condition uid, ``<run_id>/<name>``). Lost edges are the run's baseline edges
  (``Run.loss_baseline``) weakened or silenced under the condition.
- scene actions on selected neurons: "Expand 1FC group" (live clean in-edges) and
  "Show downstream targets" (live clean out-edges).

``--run RUN`` generates a perspective for one run of the graph instead: one layer colour per
layer of the run (the ramp spread over its layers), and its own layers and conditions as the
suggestions of the phrases' ``$layer`` and ``$condition``.

Every id and timestamp is fixed, so the file only changes when the schema or this module does.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fcgraph.graph import ingest as _ingest
from fcgraph.graph.connection import Graph
from fcgraph.paths import cypher_dir
from fcgraph.viz.browser import RAMP_SPAN, layer_color

BLOOM_VERSION = "2.6.0"
EPOCH_MS = 1767225600000  # 2026-01-01T00:00:00Z: fixed so the generated file is reproducible
NAMESPACE = uuid.UUID("8f0c5a86-5d1b-4f55-9d53-6f63a1b0c0de")
PALETTE = ["#4C8EDA", "#57C7E3", "#8DCC93", "#F79767", "#C990C0", "#F16667", "#FFC454",
           "#D9C8AE", "#ECB5C9", "#569480", "#DA7194", "#6DCE9E", "#848484", "#D9D9D9"]
#: Layer colours of the generic perspective: one rule per layer order on Browser's ramp; a
#: perspective generated for a run (``--run``) has one rule per layer of that run instead.
N_LAYER_RULES = RAMP_SPAN
#: Neuron properties the ingest sets from ``fcgraph analyze`` output (present once analysed).
ANALYSIS_NEURON_PROPERTIES: tuple[str, ...] = (
    *getattr(_ingest, "ANALYSIS_NEURON_PROPS", ("group_size", "gain", "threshold", "mi_event")),
    "analysed")
#: Layer properties the ingest sets from ``fcgraph analyze`` output (read-out accuracies).
ANALYSIS_LAYER_PROPERTIES: tuple[str, ...] = (
    "decoding_event_accuracy", "decoding_average_accuracy", "decoding_shuffle_accuracy",
    "median_group_size", "gain_size_rho")
#: The per-neuron decoding score: mutual information of spikes and class during 1FC events.
DECODING_PROPERTY = "mi_event"
_INTEGER_HINTS = {"idx", "channel", "y", "x", "spike_count", "order", "layer_order", "gen",
                  "n_edges", "cofire", "n_neurons", "group_size", "schema_version", "batch",
                  "pre_order", "post_order", "baseline_edges", "condition_edges", "kept",
                  "weakened", "silenced", "lost", "gained"}
_FLOAT_HINTS = {"rate", "value", "z", "null_mean", "null_sd", "p", "q", "level", "gain",
                "threshold", "lost_fraction", "jaccard"}
_ARRAY_HINTS = {"shape", "silent_in", "weakened_in", "silenced_in"}
_BOOLEAN_HINTS = {"analysed", "threshold_linear", "exact"}


@dataclass(frozen=True)
class Schema:
    """Labels and relationship types with their properties, read from ``cypher/schema.cypher``."""

    labels: dict[str, list[str]]
    relationships: dict[str, list[str]]
    path_segments: list[tuple[str, str, str]]
    indexes: dict[str, list[str]]

    def label_properties(self, label: str) -> list[str]:
        """Declared properties of ``label``, plus the analysis properties of Neuron / Layer."""
        props = list(self.labels.get(label, []))
        extra = {"Neuron": ANALYSIS_NEURON_PROPERTIES, "Layer": ANALYSIS_LAYER_PROPERTIES}
        props += [p for p in extra.get(label, ()) if p not in props]
        return props


def data_type(prop: str) -> str:
    """Bloom's dataType for a property name (``number``, ``array`` or ``string``)."""
    if prop in _BOOLEAN_HINTS:
        return "boolean"
    if prop in _INTEGER_HINTS or prop in _FLOAT_HINTS or prop in ANALYSIS_NEURON_PROPERTIES \
            or prop in ANALYSIS_LAYER_PROPERTIES:
        return "number"
    if prop in _ARRAY_HINTS:
        return "array"
    return "string"


_NODE_RE = re.compile(r"\(:(\w+) \{([^}]*)\}\)")
_REL_RE = re.compile(r"\[:(\w+)(?: \{([^}]*)\})?\]")
_SEGMENT_RE = re.compile(r"\(:(\w+)\)-\[:(\w+)\]->\(:(\w+)")
_INDEX_RE = re.compile(r"FOR \(\w+:(\w+)\) (?:ON \(([^)]*)\)|REQUIRE ([\w.]+) IS)")


def _props(text: str | None) -> list[str]:
    out = []
    for token in (text or "").split(","):
        token = token.strip()
        if token and not token.startswith("...") and re.fullmatch(r"\w+", token):
            out.append(token)
    return out


def read_schema(path: Path | None = None) -> Schema:
    """Parse the header comment (the graph model) and the index statements of schema.cypher."""
    text = (path or cypher_dir() / "schema.cypher").read_text()
    header = "\n".join(ln[2:] for ln in text.splitlines() if ln.startswith("//"))
    labels: dict[str, list[str]] = {}
    for label, props in _NODE_RE.findall(header):
        labels.setdefault(label, [])
        labels[label] += [p for p in _props(props) if p not in labels[label]]
    relationships: dict[str, list[str]] = {}
    for rel, props in _REL_RE.findall(header):
        relationships.setdefault(rel, [])
        relationships[rel] += [p for p in _props(props) if p not in relationships[rel]]
    segments = []
    for line in header.splitlines():
        for match in re.finditer(r"\(:(\w+)[^)]*\)-\[:(\w+)[^\]]*\]->\(:(\w+)", line):
            if match.groups() not in segments:
                segments.append(match.groups())
    indexes: dict[str, list[str]] = {}
    for stmt in text.split(";"):
        found = _INDEX_RE.search(" ".join(stmt.split()))
        if found:
            keys = [k.strip().split(".")[-1] for k in (found.group(2) or found.group(3)).split(",")]
            indexes.setdefault(found.group(1), [])
            indexes[found.group(1)] += [k for k in keys if k not in indexes[found.group(1)]]
    for label in ("IngestBatch", "IngestLock"):  # bookkeeping of loads, not for browsing
        labels.pop(label, None)
        indexes.pop(label, None)
    return Schema(labels, relationships, segments, indexes)


def _id(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


def _rule(name: str, prop: str, **fields: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": f"rule:{_id('rule', name)}", "type": "single", "size": 1, "minSize": 1,
        "maxSize": 3, "minColor": "#D5EEE2", "midColor": "#81CCA8", "maxColor": "#428C6A",
        "minPoint": "unprocessed", "maxPoint": "unprocessed", "applyColor": True,
        "applySize": False, "applyCaption": False, "captionKeys": [], "color": "#FFE081",
        "isTimeZoneConvertEnabled": False, "selectedTimeZone": "Z",
        "basedOn": f"{prop}_{data_type(prop)}", "valuesMapper": [], "existingValues": [],
        "conditionValue": None, "rangeValue": None, "condition": "equals",
    }
    rule.update(fields)
    return rule


def _range_rule(name: str, prop: str, *, colors: tuple[str, str, str] | None,
                sizes: tuple[float, float] | None, points: tuple[float, float] | None = None
                ) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": "range", "condition": None,
                              "applyColor": colors is not None, "applySize": sizes is not None}
    if colors:
        fields.update(minColor=colors[0], midColor=colors[1], maxColor=colors[2])
    if sizes:
        fields.update(minSize=sizes[0], maxSize=sizes[1])
    if points:
        fields.update(minPoint=points[0], maxPoint=points[1])
    return _rule(name, prop, **fields)


def _category(cid: int, label: str, schema: Schema, color: str, caption: list[str],
              rules: list[dict[str, Any]], size: float = 1) -> dict[str, Any]:
    return {
        "id": cid, "name": label, "labels": [label],
        "properties": [{"name": p, "exclude": False, "dataType": data_type(p)}
                       for p in schema.label_properties(label)],
        "createdAt": EPOCH_MS, "lastEditedAt": EPOCH_MS, "color": color, "size": size,
        "icon": "no-icon", "captionKeys": caption, "styleRules": rules,
    }


def neuron_rules(n_layers: int = N_LAYER_RULES) -> list[dict[str, Any]]:
    """Per-layer colours (a ramp over ``n_layers`` layer orders), then analysis colours / sizes
    (later rules override earlier ones)."""
    rules = [_rule(f"layer{i}", "layer_order", conditionValue=str(i),
                   color=layer_color(i, max(n_layers, 2))) for i in range(n_layers)]
    rules.append(_range_rule("gain", "gain", colors=("#440154", "#21918C", "#FDE725"), sizes=None))
    rules.append(_range_rule("decoding", DECODING_PROPERTY,
                             colors=("#F7FBFF", "#6BAED6", "#08306B"), sizes=None))
    rules.append(_range_rule("group_size", "group_size", colors=None, sizes=(1, 3)))
    return rules


def fc_rules() -> list[dict[str, Any]]:
    """FC edges: colour and width by z (3 = the default significance threshold, up to 12)."""
    return [_range_rule("fc_z", "z", colors=("#D9D9D9", "#F79767", "#B22222"), sizes=(1, 6),
                        points=(3, 12))]


@dataclass(frozen=True)
class RunInfo:
    """What a run-specific perspective needs from the graph: the run, its layers (in order) and
    its conditions."""

    run_id: str
    layers: list[str]
    conditions: list[str]


def read_run(graph: Graph, run_id: str) -> RunInfo:
    """The run's layers and conditions as the graph holds them (FcgraphError if it has none)."""
    from fcgraph.errors import FcgraphError

    rec = graph.read(
        "MATCH (r:Run {run_id: $run_id}) "
        "RETURN COLLECT { MATCH (r)-[:HAS_LAYER]->(l:Layer) RETURN l.name ORDER BY l.order } "
        "AS layers, COLLECT { MATCH (r)-[:HAS_CONDITION]->(c:Condition) RETURN c.name "
        "ORDER BY c.name } AS conditions", {"run_id": run_id},
        what=f"reading run {run_id!r}").records
    if not rec or not rec[0]["layers"]:
        raise FcgraphError(f"run {run_id!r} is not in the graph (or has no layers)")
    return RunInfo(run_id, list(rec[0]["layers"]), list(rec[0]["conditions"]))


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _param(name: str, label: str, prop: str, run: RunInfo | None = None) -> dict[str, Any]:
    """A phrase parameter; in a run's perspective its conditions and layers are suggested from
    that run only (a suggestion query listing the run's values)."""
    param: dict[str, Any] = {"name": f"${name}", "dataType": "String", "collapsed": False,
                             "suggestionLabel": label, "suggestionProp": prop,
                             "suggestionBoolean": False, "cypher": None}
    if run is not None and label in ("Condition", "Layer"):
        rel = "HAS_CONDITION" if label == "Condition" else "HAS_LAYER"
        order = "x.name" if label == "Condition" else "x.order"
        param["cypher"] = (f"MATCH (:Run {{run_id: {_literal(run.run_id)}}})-[:{rel}]->(x:{label}) "
                           f"RETURN x.{prop} AS {name} ORDER BY {order}")
        param["suggestionLabel"] = param["suggestionProp"] = None
    return param


#: The run's baseline condition (the one whose lost edges the graph records), from its Run node.
_BASELINE = "coalesce(run.loss_baseline, 'clean')"

#: (name, phrase, cypher, params as (name, suggestion label, suggestion property)); a neuron's or
#: layer's uid names its run, so no phrase asks for the run again; each returns at most a few
#: hundred paths, and none sorts a whole condition's edges (on the demo's full graph, ordering
#: the lost edges by z took 84 s; the first 500 found stream in at once)
SEARCH_PHRASES: list[tuple[str, str, str, list[tuple[str, str, str]]]] = [
    ("Ensemble (1FC group) of a neuron under a condition", "ensemble of $uid under $condition", """\
MATCH (post:Neuron {uid: $uid})
MATCH (c:Condition {run_id: post.run_id, name: $condition})
MATCH p = (pre:Neuron)-[r:FC]->(post)
WHERE r.condition = c.name AND r.gen = c.gen
RETURN p ORDER BY r.z DESC LIMIT 500""", [("uid", "Neuron", "uid"), ("condition", "Condition", "name")]),
    ("Edges of a neuron lost under a condition", "edges of $uid lost under $condition", f"""\
MATCH (n:Neuron {{uid: $uid}})
MATCH (run:Run {{run_id: n.run_id}})
MATCH (bc:Condition {{run_id: n.run_id, name: {_BASELINE}}})
MATCH p = (n)-[r:FC]-(:Neuron)
WHERE r.condition = bc.name AND r.gen = bc.gen
  AND ($condition IN coalesce(r.weakened_in, []) OR $condition IN coalesce(r.silenced_in, []))
RETURN p ORDER BY r.z DESC LIMIT 500""", [("uid", "Neuron", "uid"), ("condition", "Condition", "name")]),
    ("Hubs of a layer under a condition", "hubs of layer $layer under $condition", """\
MATCH (l:Layer {uid: $layer})
MATCH (run:Run {run_id: l.run_id})
WITH l, [i IN range(0, size(coalesce(run.degree_conditions, [])) - 1)
         WHERE run.degree_conditions[i] = $condition][0] AS k
MATCH (n:Neuron {run_id: l.run_id, layer: l.name})
WHERE n.out_degree[k] > 0
RETURN n ORDER BY n.out_degree[k] DESC, n.out_sum_z[k] DESC, n.idx LIMIT 10""",
     [("layer", "Layer", "uid"), ("condition", "Condition", "name")]),
    ("Strongest pathway from a neuron to a layer under a condition",
     "strongest pathway from $uid to layer $layer under $condition", """\
MATCH (s:Neuron {uid: $uid})
MATCH (c:Condition {run_id: s.run_id, name: $condition})
MATCH (tl:Layer {run_id: s.run_id, name: $layer})
CALL (s, c, tl) {
  MATCH p = (s) ((a:Neuron)-[r:FC]->(b:Neuron)
                 WHERE r.condition = c.name AND r.gen = c.gen AND b.layer_order <= tl.order)+ (t:Neuron)
  WHERE t.layer = tl.name AND t.run_id = s.run_id
  RETURN p LIMIT 10000
}
WITH p, reduce(acc = 0.0, r IN relationships(p) | acc + r.z) AS sum_z,
     [n IN nodes(p) | n.uid] AS uids
RETURN p ORDER BY sum_z DESC, uids LIMIT 1""",
     [("uid", "Neuron", "uid"), ("layer", "Layer", "name"), ("condition", "Condition", "name")]),
    ("Baseline edges lost under a condition", "edges lost under $condition", f"""\
MATCH (cc:Condition {{uid: $condition}})
MATCH (run:Run {{run_id: cc.run_id}})
MATCH (bc:Condition {{run_id: cc.run_id, name: {_BASELINE}}})
MATCH (a:Neuron {{run_id: cc.run_id}})-[r:FC]->(b:Neuron)
WHERE r.condition = bc.name AND r.gen = bc.gen
  AND (cc.name IN coalesce(r.weakened_in, []) OR cc.name IN coalesce(r.silenced_in, []))
RETURN a, r, b LIMIT 500""", [("condition", "Condition", "uid")]),
]

#: (name, cypher): Bloom passes the selected nodes as $nodes (ids; element ids in newer Blooms);
#: each action adds at most 500 edges per selected neuron, its strongest, to the scene
SCENE_ACTIONS: list[tuple[str, str]] = [
    ("Expand 1FC group", """\
MATCH (n:Neuron) WHERE id(n) IN $nodes OR elementId(n) IN $nodes
MATCH (c:Condition {run_id: n.run_id, name: 'clean'})
CALL (n, c) {
  MATCH p = (pre:Neuron)-[r:FC]->(n)
  WHERE r.condition = c.name AND r.gen = c.gen
  RETURN p ORDER BY r.z DESC LIMIT 500
}
RETURN p"""),
    ("Show downstream targets", """\
MATCH (n:Neuron) WHERE id(n) IN $nodes OR elementId(n) IN $nodes
MATCH (c:Condition {run_id: n.run_id, name: 'clean'})
CALL (n, c) {
  MATCH p = (n)-[r:FC]->(post:Neuron)
  WHERE r.condition = c.name AND r.gen = c.gen
  RETURN p ORDER BY r.z DESC LIMIT 500
}
RETURN p"""),
]


def build_perspective(schema: Schema | None = None, run: RunInfo | None = None) -> dict[str, Any]:
    """The perspective as a dict (see the module docstring); for ``run``, one layer colour per
    layer of the run and phrase suggestions from its own layers and conditions."""
    schema = schema or read_schema()
    title = f"fcgraph {run.run_id}" if run else "fcgraph"
    categories = [
        _category(1, "Run", schema, "#FFC454", ["run_id"], [], size=2),
        _category(2, "Layer", schema, "#2A2C34", ["name"], [
            _range_rule("layer_decoding", "decoding_event_accuracy",
                        colors=("#F7FBFF", "#6BAED6", "#08306B"), sizes=None, points=(0, 1))],
                  size=2),
        _category(3, "Condition", schema, "#C990C0", ["name"], []),
        _category(4, "Neuron", schema, PALETTE[0], ["layer", "idx"],
                  neuron_rules(len(run.layers) if run else N_LAYER_RULES)),
    ]
    rel_colors = {"FC": "#F79767", "FEEDS": "#2A2C34", "HAS_LAYER": "#A5ABB6",
                  "HAS_CONDITION": "#A5ABB6"}
    relationship_types = [
        {"id": rel, "name": rel,
         "properties": [{"propertyKey": p, "type": rel, "dataType": data_type(p)} for p in props],
         "color": rel_colors.get(rel, "#848484"), "size": 1,
         "captionKeys": ["condition"] if rel == "FC" else ["0_REL_TYPE_CAPTION_KEY"],
         "styleRules": fc_rules() if rel == "FC" else []}
        for rel, props in schema.relationships.items()]
    templates = []
    for name, phrase, cypher, params in SEARCH_PHRASES:
        templates.append({"name": name, "id": f"tmpl:{_id('tmpl', name)}", "createdAt": EPOCH_MS,
                          "text": phrase, "cypher": cypher, "isUpdateQuery": False,
                          "params": [_param(*p, run=run) for p in params], "hasCypherErrors": False})
    actions = [{"name": name, "id": _id("action", name), "createdAt": EPOCH_MS, "cypher": cypher,
                "isUpdateQuery": False, "categories": None, "relationshipTypes": None,
                "hasCypherErrors": False} for name, cypher in SCENE_ACTIONS]
    return {
        "name": title,
        "id": _id("perspective", title),
        "version": BLOOM_VERSION,
        "createdAt": EPOCH_MS,
        "lastEditedAt": EPOCH_MS,
        "isAuto": False,
        "parentPerspectiveId": None,
        "hideUncategorisedData": False,
        "hiddenCategories": [],
        "hiddenRelationshipTypes": [],
        "categories": categories,
        "labels": {label: [{"propertyKey": p, "type": label, "dataType": data_type(p)}
                           for p in schema.label_properties(label)] for label in schema.labels},
        "relationshipTypes": relationship_types,
        "palette": {"colors": PALETTE, "currentIndex": 4},
        "templates": templates,
        "sceneActions": actions,
        "metadata": {
            "pathSegments": [{"source": s, "relationshipType": r, "target": t}
                             for s, r, t in schema.path_segments],
            "indexes": [{"label": label, "type": "native",
                         "propertyKeys": [{"key": k, "metadataProp": False} for k in keys]}
                        for label, keys in schema.indexes.items()],
            "stats": {"labels": {}, "relationshipTypes": {}},
        },
    }


def perspective_path() -> Path:
    """Where the shipped perspective lives."""
    return cypher_dir() / "bloom" / "fcgraph-perspective.json"


def render(perspective: dict[str, Any]) -> str:
    """The file text (stable key order and indentation)."""
    return json.dumps(perspective, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m fcgraph.viz.bloom [--out FILE] [--check] [--run RUN]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="default: " + str(perspective_path()) + "; with --run: "
                             "fcgraph-<run>-perspective.json in the current folder")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    parser.add_argument("--run", default=None,
                        help="generate for this run of the graph (NEO4J_URI / the local server): "
                             "a colour per layer of the run, its layers and conditions suggested")
    parser.add_argument("--database", default=None, help="Neo4j database (default: neo4j)")
    args = parser.parse_args(argv)
    run = None
    if args.run is not None:
        from fcgraph.errors import FcgraphError
        from fcgraph.graph.connection import resolve_connection

        try:
            with Graph.open(resolve_connection(database=args.database)) as graph:
                run = read_run(graph, args.run)
        except FcgraphError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    default = (Path(f"fcgraph-{re.sub(r'[^A-Za-z0-9_.-]', '_', run.run_id)}-perspective.json")
               if run else perspective_path())
    out = args.out or default
    text = render(build_perspective(run=run))
    if args.check:
        current = out.read_text() if out.exists() else ""
        if current != text:
            print(f"{out} is out of date: run python -m fcgraph.viz.bloom", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}" + (f" for run {run.run_id}: {len(run.layers)} layers, conditions "
                            f"{', '.join(run.conditions)}" if run else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
