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
from fcgraph.viz import bloom, browser

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
    assert texts == {"ensemble of $uid under $condition", "edges of $uid lost under $condition",
                     "hubs of layer $layer under $condition",
                     "strongest pathway from $uid to layer $layer under $condition",
                     "edges lost under $condition"}
    assert all("$run" not in t for t in texts)  # a uid names its run
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


def _answers(driver, perspective: dict, params: dict[str, str]) -> dict[str, list]:
    """Every search phrase's Cypher, EXPLAINed then run with ``params`` (by phrase text)."""
    results = {}
    for template in perspective["templates"]:
        values = {p["name"][1:]: params[template["text"]][p["name"]] for p in template["params"]}
        driver.execute_query("EXPLAIN " + template["cypher"], values, routing_="r")
        results[template["text"]] = driver.execute_query(template["cypher"], values,
                                                         routing_="r").records
    return results


def _check_phrases(graph, run: str, perspective: dict, condition: str) -> None:
    """Each phrase under ``condition`` answers what the named queries (or the edges' own states)
    say, on the test graph."""
    driver = graph.driver
    uid = f"{run}/stage1.sn/4"
    params = {
        "ensemble of $uid under $condition": {"$uid": uid, "$condition": condition},
        "edges of $uid lost under $condition": {"$uid": uid, "$condition": condition},
        "hubs of layer $layer under $condition": {"$layer": f"{run}/stage1.sn",
                                                  "$condition": condition},
        "strongest pathway from $uid to layer $layer under $condition": {
            "$uid": uid, "$layer": "fc1.sn", "$condition": condition},
        "edges lost under $condition": {"$condition": f"{run}/{condition}"},
    }
    results = _answers(driver, perspective, params)
    ensemble = queries.ensemble(graph, run, uid, condition)
    ens = results["ensemble of $uid under $condition"]
    assert sorted(r["p"].start_node["uid"] for r in ens) == sorted(ensemble["pre_uid"])
    assert ens and all(r["p"].relationships[0]["condition"] == condition for r in ens)
    lost = results["edges of $uid lost under $condition"]
    expected = driver.execute_query(  # the neuron's clean edges whose state names the condition
        "MATCH (n:Neuron {uid: $uid})-[r:FC {condition: 'clean'}]-() "
        "WHERE $c IN coalesce(r.weakened_in, []) + coalesce(r.silenced_in, []) "
        "RETURN collect(elementId(r)) AS ids", uid=uid, c=condition, routing_="r").records[0]["ids"]
    assert sorted(r["p"].relationships[0].element_id for r in lost) == sorted(expected)
    if condition != "clean":
        assert lost, "the test graph has lost edges at this neuron"
    hubs = results["hubs of layer $layer under $condition"]
    named = queries.hubs(graph, run, condition, "out", top=10, layer="stage1.sn")
    assert [r["n"]["uid"] for r in hubs] == list(named["uid"]) and hubs
    best = results["strongest pathway from $uid to layer $layer under $condition"]
    paths = queries.strongest_paths(graph, run, uid, "fc1.sn", condition, k=1)
    assert [[n["uid"] for n in r["p"].nodes] for r in best] == list(paths["path"])
    assert all(r["condition"] == condition for p in best for r in p["p"].relationships)
    if condition == "clean":
        assert len(best) == 1
    whole = results["edges lost under $condition"]
    if condition != "clean":
        loss = queries.edge_loss(graph, run, condition)
        assert len(whole) == min(500, int(loss["lost"].sum())) > 0


def test_every_cypher_parses_and_answers(driver, graph, run, perspective):
    for condition in ("clean", "uniform:0.2"):  # every phrase takes its condition
        _check_phrases(graph, run, perspective, condition)
    uid = f"{run}/stage1.sn/4"
    ensemble = queries.ensemble(graph, run, uid, "clean")
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


def test_perspective_for_a_run_has_its_layers_and_conditions(driver, graph, run, tmp_path):
    info = bloom.read_run(graph, run)
    assert info.layers == ["sn1", "stage1.sn", "stage2.sn", "fc1.sn", "fc2.sn"]
    assert info.conditions == ["clean", "uniform:0.2"]
    perspective = bloom.build_perspective(run=info)
    assert perspective["name"] == f"fcgraph {run}"
    neuron = next(c for c in perspective["categories"] if c["name"] == "Neuron")
    layer_rules = [r for r in neuron["styleRules"] if r["basedOn"] == "layer_order_number"]
    assert [r["conditionValue"] for r in layer_rules] == [str(i) for i in range(5)]
    colors = [r["color"] for r in layer_rules]  # the whole ramp over the run's 5 layers
    assert colors[0] == browser.RAMP_STOPS[0] and colors[-1] == browser.RAMP_STOPS[-1]
    assert len(set(colors)) == 5
    suggested = {}
    for template in perspective["templates"]:
        for param in template["params"]:
            if param["cypher"]:  # the run's own values, as Bloom would list them
                rows = driver.execute_query(param["cypher"], routing_="r").records
                suggested[(template["text"], param["name"])] = [r[0] for r in rows]
    assert suggested[("ensemble of $uid under $condition", "$condition")] == info.conditions
    assert suggested[("hubs of layer $layer under $condition", "$layer")] == \
        [f"{run}/{name}" for name in info.layers]
    assert suggested[("strongest pathway from $uid to layer $layer under $condition",
                      "$layer")] == info.layers
    for condition in info.conditions:  # and every phrase runs on the test graph
        _check_phrases(graph, run, perspective, condition)
    out = tmp_path / "p.json"
    assert bloom.main(["--run", run, "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == perspective
    assert bloom.main(["--run", "no-such-run", "--out", str(out)]) == 2
