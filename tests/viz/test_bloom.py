"""The Bloom perspective: generated from the schema, up to date, and everything it names exists.

Labels, relationship types and properties are checked against what an ingested run really
holds in Neo4j (``db.schema.*``); every search phrase and scene action is EXPLAINed and then run
against the real server with parameters, and must find the ingested answer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fcgraph.contract import OPTIONAL_EDGE_COLUMNS
from fcgraph.graph import ingest, queries
from fcgraph.graph.ingest import ingest_run
from fcgraph.synthetic import make_synthetic_run
from fcgraph.viz import bloom

SHIPPED = bloom.perspective_path()


@pytest.fixture(scope="module")
def perspective() -> dict:
    return json.loads(SHIPPED.read_text())


@pytest.fixture
def run(graph, run_id, tmp_path) -> str:
    make_synthetic_run(tmp_path / "run", run_id, conditions=("clean", "uniform:0.2"), fan_in=5,
                       silent=0.1)  # silent neurons and silenced edges: every property exists
    ingest_run(graph, tmp_path / "run")
    return run_id


def test_shipped_file_is_the_generators_output(perspective):
    assert SHIPPED.read_text() == bloom.render(bloom.build_perspective()), \
        "stale: run python -m fcgraph.viz.bloom"
    assert bloom.main(["--check"]) == 0


def test_structure_bloom_needs(perspective):
    for key in ("name", "id", "version", "categories", "labels", "relationshipTypes", "palette",
                "templates", "sceneActions", "metadata", "hiddenCategories",
                "hiddenRelationshipTypes", "hideUncategorisedData"):
        assert key in perspective, key
    assert {c["name"] for c in perspective["categories"]} == {"Run", "Layer", "Condition", "Neuron"}
    for rel in perspective["relationshipTypes"]:
        assert "size" in rel and rel["color"].startswith("#")  # import fails without size
    for cat in perspective["categories"]:
        assert cat["icon"] == "no-icon" and cat["labels"] == [cat["name"]]
    neuron = next(c for c in perspective["categories"] if c["name"] == "Neuron")
    layer_rules = [r for r in neuron["styleRules"] if r["basedOn"] == "layer_order_number"]
    assert len(layer_rules) == bloom.N_LAYER_RULES  # one colour per layer
    assert len({r["color"] for r in layer_rules}) == bloom.N_LAYER_RULES
    by_prop = {r["basedOn"]: r for r in neuron["styleRules"]}
    assert by_prop["gain_number"]["type"] == "range" and by_prop["gain_number"]["applyColor"]
    assert by_prop[f"{bloom.DECODING_PROPERTY}_number"]["applyColor"]
    fc = next(r for r in perspective["relationshipTypes"] if r["name"] == "FC")
    assert fc["styleRules"][0]["basedOn"] == "z_number" and fc["styleRules"][0]["applySize"]
    texts = {t["text"] for t in perspective["templates"]}
    assert texts == {"ensemble of neuron $uid in run $run", "pathways from $uid to layer $layer",
                     "edges lost under $condition"}
    assert {a["name"] for a in perspective["sceneActions"]} == {"Expand 1FC group",
                                                                "Show downstream targets"}
    for template in perspective["templates"]:
        assert set(re.findall(r"\$\w+", template["text"])) == {p["name"] for p in template["params"]}
        assert set(re.findall(r"\$\w+", template["cypher"])) == {p["name"] for p in template["params"]}


def _db_schema(driver) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    nodes: dict[str, set[str]] = {}
    for rec in driver.execute_query("CALL db.schema.nodeTypeProperties() YIELD nodeLabels, "
                                    "propertyName RETURN nodeLabels, propertyName",
                                    routing_="r").records:
        for label in rec["nodeLabels"]:
            nodes.setdefault(label, set()).add(rec["propertyName"])
    rels: dict[str, set[str]] = {}
    for rec in driver.execute_query("CALL db.schema.relTypeProperties() YIELD relType, "
                                    "propertyName RETURN relType, propertyName",
                                    routing_="r").records:
        rels.setdefault(rec["relType"].strip(":`"), set()).add(rec["propertyName"])
    return nodes, rels


def test_every_label_type_and_property_exists(driver, run, perspective):
    nodes, rels = _db_schema(driver)
    # analysis properties exist only on analysed runs: they must be ones the ingest writes
    analysis = {"Neuron": set(bloom.ANALYSIS_NEURON_PROPERTIES),
                "Layer": set(bloom.ANALYSIS_LAYER_PROPERTIES)}
    ingest_source = Path(ingest.__file__).read_text()
    for prop in analysis["Neuron"] | analysis["Layer"]:
        assert f'"{prop}"' in ingest_source, f"{prop} is not written by fcgraph.graph.ingest"
    schema_text = (bloom.cypher_dir() / "schema.cypher").read_text()

    def check_node(label: str, prop: str | None) -> None:
        assert label in nodes, f"label {label} is not in the graph"
        assert f"(:{label}" in schema_text, f"label {label} is not in schema.cypher"
        if prop and prop not in analysis.get(label, ()):
            assert prop in nodes[label] - {None}, f"{label}.{prop} is not in the graph"

    for cat in perspective["categories"]:
        for prop in [p["name"] for p in cat["properties"]] + cat["captionKeys"]:
            check_node(cat["labels"][0], prop)
        for rule in cat["styleRules"]:
            prop = rule["basedOn"].rsplit("_", 1)[0]
            check_node(cat["labels"][0], prop)
    for label, props in perspective["labels"].items():
        for prop in props:
            check_node(label, prop["propertyKey"])
    for rel in perspective["relationshipTypes"]:
        assert rel["name"] in rels, f"relationship type {rel['name']} is not in the graph"
        for prop in rel["properties"]:  # p and q are optional edge columns (when computed)
            assert prop["propertyKey"] in rels[rel["name"]] | set(OPTIONAL_EDGE_COLUMNS)
        for rule in rel["styleRules"]:
            assert rule["basedOn"].rsplit("_", 1)[0] in rels[rel["name"]]
    for seg in perspective["metadata"]["pathSegments"]:
        assert seg["source"] in nodes and seg["target"] in nodes
        assert seg["relationshipType"] in rels
    for index in perspective["metadata"]["indexes"]:
        for key in index["propertyKeys"]:
            check_node(index["label"], key["key"])
    cyphers = [t["cypher"] for t in perspective["templates"]] + \
        [a["cypher"] for a in perspective["sceneActions"]]
    for template in perspective["templates"]:
        for param in template["params"]:
            check_node(param["suggestionLabel"], param["suggestionProp"])
    for cypher in cyphers:
        for label in re.findall(r"\(\w*:(\w+)", cypher):
            check_node(label, None)
        for rel in re.findall(r"\[\w*:(\w+)", cypher):
            assert rel in rels
        for var, label in re.findall(r"\((\w+):(\w+)", cypher):
            for prop in re.findall(rf"\b{var}\.(\w+)", cypher):
                check_node(label, prop)


def test_every_cypher_parses_and_answers(driver, graph, run, perspective):
    uid = f"{run}/stage1.sn/4"
    params = {"$uid": uid, "$run": run, "$layer": "fc1.sn", "$condition": f"{run}/uniform:0.2"}
    ensemble = queries.ensemble(graph, run, uid, "clean")
    templates = {t["text"]: t for t in perspective["templates"]}
    results = {}
    for text, template in templates.items():
        values = {p["name"][1:]: params[p["name"]] for p in template["params"]}
        driver.execute_query("EXPLAIN " + template["cypher"], values, routing_="r")
        results[text] = driver.execute_query(template["cypher"], values, routing_="r").records
    ens = results["ensemble of neuron $uid in run $run"]
    assert sorted(r["p"].start_node["uid"] for r in ens) == sorted(ensemble["pre_uid"])
    paths = results["pathways from $uid to layer $layer"]
    best = queries.strongest_paths(graph, run, uid, "fc1.sn", "clean", k=1)
    assert paths and [n["uid"] for n in paths[0]["p"].nodes] == best["path"][0]
    lost = results["edges lost under $condition"]
    loss = queries.edge_loss(graph, run, "uniform:0.2")
    assert len(lost) == min(500, int(loss["lost"].sum())) > 0
    node_id = driver.execute_query("MATCH (n:Neuron {uid: $uid}) RETURN id(n) AS id, "
                                   "elementId(n) AS eid", uid=uid, routing_="r").records[0]
    for action in perspective["sceneActions"]:
        driver.execute_query("EXPLAIN " + action["cypher"], {"nodes": [1]}, routing_="r")
        for selected in ([node_id["id"]], [node_id["eid"]]):  # old and new Bloom ids
            rows = driver.execute_query(action["cypher"], {"nodes": selected}, routing_="r").records
            if action["name"] == "Expand 1FC group":
                assert sorted(r["p"].start_node["uid"] for r in rows) == sorted(ensemble["pre_uid"])
            else:
                assert rows and all(r["p"].start_node["uid"] == uid for r in rows)
