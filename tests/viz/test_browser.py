"""Neo4j Browser served by `fcgraph db start`: the app, the style and guide, and a real session in
headless Chromium that connects, runs the ensemble query and finds the graph drawn."""

from __future__ import annotations

import html
import os
import urllib.request
from urllib.parse import urlparse

import pytest

from fcgraph.db import server
from fcgraph.graph import queries
from fcgraph.graph.ingest import ingest_run
from fcgraph.paths import state_dir
from fcgraph.synthetic import make_synthetic_run
from fcgraph.viz import browser
from fcgraph.viz.chromium import LAUNCH_ARGS, find_chromium
from tests.helpers.browser import ARTIFACTS, require_chromium


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 (local server)
        return resp.status, resp.read()


@pytest.fixture(scope="module")
def browser_url(neo4j_conn) -> str:
    """The Browser URL of the server scripts/test.sh started (FCGRAPH_STATE_DIR)."""
    st = server.status(state_dir())
    if not st.running:
        pytest.skip("the test Neo4j was not started by fcgraph db start")
    if not st.browser_url:
        if os.environ.get("FCGRAPH_REQUIRE_BROWSER") != "1":
            pytest.skip("the local Neo4j was started before it served Neo4j Browser")
        pytest.fail("the local Neo4j runs without Neo4j Browser: restart it with this fcgraph "
                    "(`fcgraph db stop && fcgraph db start`) so the jars include neo4j-browser")
    return st.browser_url


def test_grass_file_survives_browsers_parser():
    rules = browser.parse_grass(browser.read_grass())
    assert {"node", "node.Neuron", "relationship", "relationship.FC", "node.Layer"} <= set(rules)
    assert all(decls for decls in rules.values()), "a rule lost its declarations"
    # Browser breaks captions at spaces only: "layer idx" keeps the index on its own line
    assert rules["node.Neuron"]["caption"] == "'{layer} {idx}'"
    assert rules["relationship.FC"]["caption"] == "'{condition}'"


def test_grass_is_generated_and_ramps_over_any_number_of_layers():
    assert browser.read_grass() == browser.build_grass(), "stale: run python -m fcgraph.viz.browser"
    assert browser.main(["--check"]) == 0
    rules = browser.parse_grass(browser.read_grass())
    layer_rules = [f"node.L{i}" for i in range(browser.LAYER_RULES)]
    assert set(layer_rules) <= set(rules) and browser.LAYER_RULES >= 100
    colors = [rules[r]["color"] for r in layer_rules]
    # one colour per layer along the ramp (sew-resnet18 has 20 spiking layers), the ends apart
    assert len(set(colors[:browser.RAMP_SPAN])) == browser.RAMP_SPAN >= 20
    assert colors[0] == browser.RAMP_STOPS[0] and colors[browser.RAMP_SPAN - 1] == browser.RAMP_STOPS[-1]
    assert colors[browser.RAMP_SPAN] == colors[0]  # then the ramp starts again
    for rule in layer_rules:  # readable text on light and dark fills
        assert rules[rule]["text-color-internal"] in ("#FFFFFF", "#2A2C34")


def test_connect_result_nodes_is_turned_off_on_connect():
    cmds = browser.post_connect_cmd("http://127.0.0.1:7474").split("; ")
    # "Connect result nodes" is Browser's autoComplete setting; the guide opens in the sidebar
    assert cmds == ["config autoComplete: false",
                    "style http://127.0.0.1:7474/browser/fcgraph/fcgraph.grass",
                    "guide http://127.0.0.1:7474/browser/fcgraph/guide.html"]


def test_guide_has_one_slide_per_named_query():
    page = browser.guide_html("http://127.0.0.1:7474")
    names = list(queries.list_queries()["name"])
    assert page.count("<slide") == len(names) + 1
    for name in names:
        assert f"<h3>{name}</h3>" in page
        assert html.escape(browser.param_block(name)) in page
    assert "runnable" in page and "<script" not in page
    assert "'RUN" not in page and "'LAYER'" not in page  # no placeholders


def test_guide_parameters_come_from_the_graph(driver, graph, neo4j_conn, run_id, tmp_path):
    """Each slide's :param block, run as Browser runs it (its inner query), fills every parameter
    from the newest run, and the named query answers with them."""
    make_synthetic_run(tmp_path / "run", run_id, conditions=("clean", "uniform:0.2"), fan_in=5)
    ingest_run(graph, tmp_path / "run")
    in_hub = driver.execute_query(
        "MATCH (n:Neuron {run_id: $run}) RETURN n.uid AS uid, COUNT { (n)<-[:FC]-() } AS d "
        "ORDER BY d DESC, uid LIMIT 1", run=run_id, routing_="r").records[0]["uid"]
    for name in queries.list_queries()["name"]:
        block = browser.param_block(name)
        assert block.startswith(":param [{") and "'RUN" not in block
        rows = driver.execute_query(browser.param_query(block), routing_="r").records
        assert len(rows) == 1, name
        values = dict(rows[0])
        spec = queries.get_query(name)
        assert list(values) == list(spec.params), name  # every parameter, in header order
        assert values["run_id"] == run_id, name
        for p in spec.params.values():
            if not p.required and p.name not in browser.GUIDE_QUERY_VALUES.get(name, {}):
                assert values[p.name] == p.default, (name, p.name)  # ints stay ints
        if name == "ensemble":
            assert values["uid"] == in_hub
        if name == "pathways":
            assert values["target_layer"] == "fc2.sn" and values["uid"].startswith(run_id)
        if name in ("edge_loss", "lost_pathways"):
            assert values["condition"] == "uniform:0.2"
        if name == "compare_runs":
            assert values["other_run_id"] not in (None, "")
            continue  # the other run is whatever another test left
        if name in ("gain_by_size", "top_ensembles"):
            continue  # need an analysed run
        answer = queries.run_query(graph, name, values)
        assert len(answer) > 0, name


def test_graph_forms_draw_what_the_named_queries_answer(driver, graph, neo4j_conn, run_id, tmp_path):
    make_synthetic_run(tmp_path / "run", run_id, conditions=("clean",), fan_in=5)
    ingest_run(graph, tmp_path / "run")
    uid = f"{run_id}/stage2.sn/1"
    named = queries.ensemble(graph, run_id, uid, "clean", min_z=5.0)
    drawn = driver.execute_query(browser.GRAPH_QUERIES["ensemble"], run_id=run_id, uid=uid,
                                 condition="clean", min_z=5.0, limit=1000.0,  # a Browser float
                                 routing_="r").records
    assert [r["p"].start_node["uid"] for r in drawn] == list(named["pre_uid"])
    paths = queries.strongest_paths(graph, run_id, uid, "fc2.sn", "clean", k=3)
    drawn = driver.execute_query(browser.GRAPH_QUERIES["pathways"], run_id=run_id, uid=uid,
                                 target_layer="fc2.sn", condition="clean", min_z=None, k=3.0,
                                 max_paths=100000.0, routing_="r").records
    assert [[n["uid"] for n in r["p"].nodes] for r in drawn] == list(paths["path"])


def test_browser_app_style_and_guide_are_served(browser_url):
    status, body = _get(browser_url)
    assert status == 200 and b"<html" in body.lower()
    status, grass = _get(f"{browser_url}fcgraph/fcgraph.grass")
    assert status == 200 and grass.decode() == browser.read_grass()
    status, guide = _get(f"{browser_url}fcgraph/guide.html")
    assert status == 200 and b"<h3>ensemble</h3>" in guide
    conf = (server.ServerLayout.of(state_dir()).conf / "neo4j.conf").read_text()
    http = browser_url.rstrip("/").rsplit("/", 1)[0]
    assert f"browser.post_connect_cmd={browser.post_connect_cmd(http)}" in conf
    assert "browser.remote_content_hostname_whitelist=127.0.0.1" in conf


#: Layer names as long as sew-resnet18's, for the captions
LONG_LAYERS = (("sn1", (4, 4, 4)), ("layer1.0.sn1", (8, 2, 2)), ("layer1.0.sn2", (8, 2, 2)),
               ("layer4.1.sn2", (32,)), ("fc.sn", (16,)))


#: A layer pair's live clean edges, as a user would draw them
LAYER_PAIR = """MATCH (c:Condition {run_id: $run_id, name: 'clean'})
MATCH p = (a:Neuron {run_id: $run_id, layer: 'layer1.0.sn1'})-[r:FC]->(b:Neuron)
WHERE r.condition = c.name AND r.gen = c.gen
RETURN p ORDER BY r.z DESC, a.idx, b.idx LIMIT 60"""


def _run_in_editor(page, text: str) -> None:
    page.get_by_test_id("activeEditor").click()
    page.keyboard.insert_text(text)
    page.keyboard.press("Control+Enter")


def _drawn(page) -> tuple[int, int]:
    return page.locator("svg g.node").count(), page.locator("svg g.relationship").count()


def _wait_drawn(page, nodes: int, name: str) -> None:
    page.wait_for_function("n => document.querySelectorAll('svg g.node').length >= n",
                           arg=nodes, timeout=60_000)
    page.wait_for_timeout(2500)  # Connect result nodes (were it on) would add its edges now
    page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"))


@pytest.mark.slow
@pytest.mark.browser
def test_browser_draws_what_the_query_returns(browser_url, driver, graph, neo4j_conn, run_id, tmp_path):
    """A real Browser session: on connect the style applies, Connect result nodes is off and the
    guide opens in the sidebar; the guide's own blocks set the parameters from the graph and draw
    the hub's 1FC group: exactly the returned edges are drawn, though the other condition's
    edges join the same neurons, and captions show layer and index whole."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    make_synthetic_run(tmp_path / "run", run_id, layers=LONG_LAYERS,
                       conditions=("clean", "uniform:0.2"), fan_in=6, keep=0.9)
    ingest_run(graph, tmp_path / "run")
    values = dict(driver.execute_query(browser.param_query(browser.param_block("ensemble")),
                                       routing_="r").records[0])
    assert values["run_id"] == run_id
    expected = queries.ensemble(graph, run_id, values["uid"], "clean")
    uids = [*expected["pre_uid"], values["uid"]]
    between = driver.execute_query("MATCH (a:Neuron)-[r:FC]->(b:Neuron) WHERE a.uid IN $uids "
                                   "AND b.uid IN $uids RETURN count(r) AS n", uids=uids,
                                   routing_="r").records[0]["n"]
    assert between > len(expected) > 0  # Connect result nodes would draw more than returned
    paths_values = dict(driver.execute_query(
        browser.param_query(browser.param_block("pathways")), routing_="r").records[0])
    paths = driver.execute_query(browser.GRAPH_QUERIES["pathways"], paths_values,
                                 routing_="r").records
    path_rels = {r.element_id for rec in paths for r in rec["p"].relationships}
    path_nodes = {n.element_id for rec in paths for n in rec["p"].nodes}
    assert path_rels
    bolt = urlparse(neo4j_conn.uri)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=find_chromium(), args=LAUNCH_ARGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{browser_url}?dbms=bolt://{neo4j_conn.user}@{bolt.hostname}:{bolt.port}",
                      timeout=60_000)
            page.get_by_test_id("password").fill(neo4j_conn.password or "")
            page.get_by_test_id("connect").click()
            # post_connect_cmd: the guide opens in the sidebar, not in the frame stream
            guide = page.get_by_text("fcgraph: the named queries").first
            guide.wait_for(timeout=60_000)
            page.get_by_test_id("frameCommand").filter(has_text=":style").first.wait_for(
                timeout=30_000)
            page.get_by_test_id("frameCommand").filter(has_text=":config").first.wait_for(
                timeout=30_000)
            commands = [c.inner_text() for c in page.get_by_test_id("frameCommand").all()]
            assert not any(":play" in c and "fcgraph" in c for c in commands), commands
            # Browser's "Connect result nodes" is its autoComplete setting (saved a moment later)
            page.wait_for_function("() => JSON.parse(localStorage.getItem('neo4j.settings') "
                                   "|| '{}').autoComplete === false", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "browser-connect.png"))
            # the guide's ensemble slide: its parameter block, then its graph form
            slide = browser.guide_slide_names().index("ensemble")
            for _ in range(slide):
                page.get_by_role("button", name="Next").click()
            page.get_by_text("Draw it as a graph").wait_for(timeout=10_000)
            page.locator("pre", has_text=":param [{run_id, uid").first.click()
            page.keyboard.press("Control+Enter")
            page.get_by_text(f'"uid": "{values["uid"]}"').first.wait_for(timeout=30_000)
            page.locator("pre", has_text="RETURN p ORDER BY r.z DESC").first.click()
            page.keyboard.press("Control+Enter")
            _wait_drawn(page, len(expected) + 1, "ensemble")
            assert _drawn(page) == (len(expected) + 1, len(expected))  # not `between`
            captions = page.locator("svg g.node").evaluate_all(  # a node's lines, joined
                "els => els.map(e => [...e.querySelectorAll('text')]"
                ".map(t => t.textContent.trim()).join(' '))")
            assert not any("…" in c for c in captions), captions
            # each neuron captioned "layer idx" whole: the layer on one line, the index on the next
            assert sorted(captions) == sorted(" ".join(u.split("/")[1:]) for u in uids), captions
            # the pathways slide's graph form, with its parameters
            _run_in_editor(page, browser.param_block("pathways"))
            page.get_by_text(f'"uid": "{paths_values["uid"]}"').first.wait_for(timeout=30_000)
            _run_in_editor(page, browser.GRAPH_QUERIES["pathways"])
            page.wait_for_function(
                "n => document.querySelectorAll('svg g.node').length >= n",
                arg=len(expected) + 1 + len(path_nodes), timeout=60_000)
            page.wait_for_timeout(2500)
            page.screenshot(path=str(ARTIFACTS / "browser-pathways.png"))
            frames = page.locator("[data-testid='frame']")
            drawn = frames.first.locator("svg g.relationship").count()
            assert drawn == len(path_rels)
            # a layer pair's clean edges: the other condition joins most of the same pairs
            pair = driver.execute_query(LAYER_PAIR, run_id=run_id, routing_="r").records
            pair_uids = list({n["uid"] for rec in pair for n in rec["p"].nodes})
            joined = driver.execute_query(
                "MATCH (a:Neuron)-[r:FC]->(b:Neuron) WHERE a.uid IN $uids AND b.uid IN $uids "
                "RETURN count(r) AS n", uids=pair_uids, routing_="r").records[0]["n"]
            assert joined > len(pair) == 60
            _run_in_editor(page, LAYER_PAIR)
            page.wait_for_function(
                "n => document.querySelector(\"[data-testid='frame'] svg\") && document"
                ".querySelector(\"[data-testid='frame']\").querySelectorAll('svg g.node').length"
                " >= n", arg=len(pair_uids), timeout=60_000)
            page.wait_for_timeout(2500)
            page.screenshot(path=str(ARTIFACTS / "browser-layer-pair.png"))
            assert frames.first.locator("svg g.relationship").count() == len(pair)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser-failed.png"))
            raise
        finally:
            chromium.close()
