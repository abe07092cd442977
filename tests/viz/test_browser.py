"""Neo4j Browser served by `fcgraph db start`: the app, the style and guide, and a real session in
headless Chromium that connects, runs the ensemble query and finds the graph drawn."""

from __future__ import annotations

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
    assert rules["node.Neuron"]["caption"] == "'{layer}/{idx}'"
    assert rules["relationship.FC"]["caption"] == "'{condition}'"
    assert {f"node.L{i}" for i in range(12)} <= set(rules)  # colours by layer label


def test_guide_has_one_slide_per_named_query():
    page = browser.guide_html("http://127.0.0.1:7474")
    names = list(queries.list_queries()["name"])
    assert page.count("<slide") == len(names) + 1
    for name in names:
        assert f"<h3>{name}</h3>" in page
    assert "runnable" in page and "<script" not in page


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


@pytest.mark.slow
@pytest.mark.browser
def test_browser_connects_styles_and_draws_the_ensemble(browser_url, graph, neo4j_conn, run_id,
                                                        tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    make_synthetic_run(tmp_path / "run", run_id, conditions=("clean",), fan_in=6)
    ingest_run(graph, tmp_path / "run")
    uid = f"{run_id}/stage1.sn/3"
    expected = queries.ensemble(graph, run_id, uid, "clean")
    assert len(expected) == 6
    bolt = urlparse(neo4j_conn.uri)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=find_chromium(), args=LAUNCH_ARGS)
        try:
            page = chromium.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{browser_url}?dbms=bolt://{neo4j_conn.user}@{bolt.hostname}:{bolt.port}",
                      timeout=60_000)
            page.get_by_test_id("password").fill(neo4j_conn.password or "")
            page.get_by_test_id("connect").click()
            # post_connect_cmd: the style is applied and the guide opens
            page.get_by_text("fcgraph: the named queries").wait_for(timeout=60_000)
            # the :style frame can be drawn after the guide's (seen once, under a loaded machine)
            page.get_by_test_id("frameCommand").filter(has_text=":style").first.wait_for(
                timeout=30_000)
            commands = [c.inner_text() for c in page.get_by_test_id("frameCommand").all()]
            assert any(":style" in c and "fcgraph.grass" in c for c in commands), commands
            editor = page.get_by_test_id("activeEditor")
            editor.click()
            page.keyboard.insert_text(f":params {{run_id: '{run_id}', uid: '{uid}', condition: 'clean', "
                               "min_z: null, limit: 1000}")
            page.keyboard.press("Control+Enter")
            page.get_by_text('"uid":').first.wait_for(timeout=30_000)
            editor.click()
            page.keyboard.insert_text(browser.GRAPH_QUERIES["ensemble"])
            page.keyboard.press("Control+Enter")
            nodes = page.locator("svg g.node")
            page.wait_for_function(
                "n => document.querySelectorAll('svg g.node').length >= n", arg=len(expected) + 1,
                timeout=60_000)
            page.wait_for_timeout(1500)  # let the force layout settle for the screenshot
            page.screenshot(path=str(ARTIFACTS / "browser-ensemble.png"))
            assert nodes.count() == len(expected) + 1  # the post neuron and its 1FC group
            assert page.locator("svg g.relationship").count() >= len(expected)
            # the fcgraph style: Neuron captions are layer/idx
            captions = page.locator("svg g.node text").evaluate_all(
                "els => els.map(e => e.textContent)")
            assert any(c.strip().startswith("sn1/") for c in captions), captions  # sn1/idx
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser-ensemble-failed.png"))
            raise
        finally:
            chromium.close()
