"""The offline HTML view: the subgraphs read from Neo4j, a self-contained page, and headless
Chromium drawing exactly the subgraph's nodes and edges from a file:// URL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcgraph.cli import app
from fcgraph.errors import FcgraphError
from fcgraph.graph import queries
from fcgraph.graph.ingest import ingest_run
from fcgraph.synthetic import make_synthetic_run
from fcgraph.viz.chromium import LAUNCH_ARGS, find_chromium
from fcgraph.viz.layout import CELL
from fcgraph.viz.view import (
    LIBRARY,
    Subgraph,
    graph_payload,
    layer_pair_subgraph,
    neuron_subgraph,
    pathway_subgraph,
    render_html,
    write_view,
)
from tests.helpers.browser import ARTIFACTS, require_chromium

runner = CliRunner()


@pytest.fixture
def run(graph, run_id, tmp_path) -> str:
    make_synthetic_run(tmp_path / "run", run_id, conditions=("clean", "uniform:0.2"), fan_in=5)
    ingest_run(graph, tmp_path / "run")
    return run_id


def _out_edges(driver, uid: str, condition: str) -> set[tuple[str, str]]:
    records = driver.execute_query("""
        MATCH (c:Condition {run_id: $run, name: $condition})
        MATCH (n:Neuron {uid: $uid})-[r:FC]->(b) WHERE r.condition = c.name AND r.gen = c.gen
        RETURN b.uid AS post""", run=uid.split("/")[0], uid=uid, condition=condition,
                                   routing_="r").records
    return {(uid, r["post"]) for r in records}


def test_neuron_view_is_its_ensemble_and_targets(driver, graph, run):
    uid = f"{run}/stage1.sn/2"
    sub = neuron_subgraph(graph, run, uid, ["clean", "uniform:0.2"])
    for condition in ("clean", "uniform:0.2"):
        ens = queries.ensemble(graph, run, uid, condition)
        expected = {(p, uid) for p in ens["pre_uid"]} | _out_edges(driver, uid, condition)
        got = {(e["pre"], e["post"]) for e in sub.edges if e["condition"] == condition}
        assert got == expected and expected
        zs = {(e["pre"], e["z"]) for e in sub.edges
              if e["condition"] == condition and e["post"] == uid}
        assert zs == set(zip(ens["pre_uid"], ens["z"], strict=True))
    assert set(sub.nodes) == {e["pre"] for e in sub.edges} | {e["post"] for e in sub.edges}
    assert sub.nodes[uid]["layer"] == "stage1.sn" and sub.focus == [uid]


def test_layer_pair_and_pathway_views(driver, graph, run):
    pair = layer_pair_subgraph(graph, run, "stage2.sn", "fc1.sn", ["clean"], limit=30)
    assert len(pair.edges) == 30
    assert {pair.nodes[e["pre"]]["layer"] for e in pair.edges} == {"stage2.sn"}
    assert {pair.nodes[e["post"]]["layer"] for e in pair.edges} == {"fc1.sn"}
    strongest = sorted((e["z"] for e in pair.edges), reverse=True)
    all_z = driver.execute_query("""
        MATCH (c:Condition {run_id: $run, name: 'clean'})
        MATCH (a:Neuron {run_id: $run, layer: 'stage2.sn'})-[r:FC]->(b:Neuron {layer: 'fc1.sn'})
        WHERE r.condition = 'clean' AND r.gen = c.gen RETURN r.z AS z ORDER BY z DESC LIMIT 30""",
                                 run=run, routing_="r").records
    assert strongest == [r["z"] for r in all_z]
    source = f"{run}/sn1/7"
    paths = queries.strongest_paths(graph, run, source, "fc1.sn", "clean", k=4)
    sub = pathway_subgraph(graph, run, source, "fc1.sn", ["clean"], k=4)
    hops = {(p[i], p[i + 1]) for p in paths["path"] for i in range(len(p) - 1)}
    assert {(e["pre"], e["post"]) for e in sub.edges} == hops and hops
    assert {p for path in paths["path"] for p in path} == set(sub.nodes)


def test_conv_layers_are_laid_out_by_channel_and_position(graph, run):
    """A conv layer pair from the graph: its shapes are the Layer nodes', and every neuron sits
    at its (y, x) inside one block per channel, the blocks row by row in channel order."""
    sub = layer_pair_subgraph(graph, run, "sn1", "stage1.sn", ["clean"], limit=5000)
    assert sub.shapes == {"sn1": [4, 8, 8], "stage1.sn": [8, 4, 4]}
    nodes = graph_payload(sub)["nodes"]
    assert len(nodes) == len(sub.nodes) > 20
    for layer, (_, h, w) in (("sn1", (4, 8, 8)), ("stage1.sn", (8, 4, 4))):
        origin: dict[int, set[tuple[float, float]]] = {}
        for n in (n for n in nodes if n["layer"] == layer):
            p = n["props"]
            assert (p["channel"], p["y"], p["x"]) == (n["idx"] // (h * w), n["idx"] // w % h,
                                                      n["idx"] % w)
            origin.setdefault(p["channel"], set()).add((n["x"] - p["x"] * CELL,
                                                        n["y"] - p["y"] * CELL))
        assert all(len(o) == 1 for o in origin.values())  # one block per channel
        blocks = [next(iter(origin[c])) for c in sorted(origin)]
        assert len(set(blocks)) == len(blocks)
        assert blocks == sorted(blocks, key=lambda b: (b[1], b[0]))  # row by row, by channel
        rows = {y for _, y in blocks}
        assert all(abs(a - b) >= h * CELL for a in rows for b in rows if a != b)  # no overlap


def test_unknown_names_are_one_line_errors(graph, run):
    with pytest.raises(FcgraphError, match="no neuron"):
        neuron_subgraph(graph, run, f"{run}/sn1/999999")
    with pytest.raises(FcgraphError, match="no condition"):
        neuron_subgraph(graph, run, f"{run}/sn1/0", ["fgsm:0.1"])
    with pytest.raises(FcgraphError, match="no layer"):
        layer_pair_subgraph(graph, run, "sn1", "nope")
    with pytest.raises(FcgraphError, match="not in the graph"):
        neuron_subgraph(graph, "no-such-run", "no-such-run/sn1/0")
    result = runner.invoke(app, ["view", run, "--neuron", f"{run}/x/1"])
    assert result.exit_code == 2 and "no neuron" in result.output
    result = runner.invoke(app, ["view", run])
    assert result.exit_code == 2 and "exactly one of" in result.output


def test_page_is_self_contained_and_escapes_data():
    sub = Subgraph("r</script><b>", "t", nodes={
        "r/a/0": {"uid": "r/a/0", "layer": "a", "layer_order": 0, "idx": 0, "gain": 1.5,
                  "note": "</script><script>alert(1)</script>"},
        "r/b/0": {"uid": "r/b/0", "layer": "b", "layer_order": 1, "idx": 0, "rate": float("nan")}},
        edges=[{"pre": "r/a/0", "post": "r/b/0", "condition": "clean", "z": 4.0}])
    page = render_html(sub)
    assert page.count("</script>") == 3  # only the closing tags of the page's own three scripts
    # the vendored library is inlined byte for byte; the rest of the page refers to nothing
    # outside it (the library's own code may, e.g. for node images, which the view never sets
    # and the page's Content-Security-Policy would refuse)
    library = LIBRARY.read_text(encoding="utf-8")
    assert page.count(library) == 1
    own = page.replace(library, "")
    assert not re.search(r"""(src|href)\s*=|url\(|@import|<link|fetch\(|XMLHttpRequest""", own)
    assert "default-src 'none'" in page


def test_cli_writes_the_page(driver, run, tmp_path):
    out = tmp_path / "pair.html"
    result = runner.invoke(app, ["view", run, "--layer-pair", "sn1", "stage1.sn", "-c", "clean",
                                 "--limit", "12", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "12 FC edges" in result.output and out.exists()
    result = runner.invoke(app, ["view", run, "--pathway", f"{run}/sn1/1", "fc2.sn", "-k", "3",
                                 "--out", str(tmp_path / "path.html")])
    assert result.exit_code == 0, result.output


@pytest.mark.slow
@pytest.mark.browser
def test_chromium_draws_every_node_and_edge_offline(graph, run, tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    uid = f"{run}/stage1.sn/2"
    graphs = {
        "neuron": neuron_subgraph(graph, run, uid, ["clean", "uniform:0.2"]),
        "layer-pair": layer_pair_subgraph(graph, run, "stage2.sn", "fc1.sn", ["clean"], limit=80),
        "pathway": pathway_subgraph(graph, run, f"{run}/sn1/7", "fc2.sn", ["clean"], k=5),
    }
    for name, sub in graphs.items():  # give one view gain values: colour by gain
        if name == "neuron":
            for i, props in enumerate(sub.nodes.values()):
                props["gain"] = 0.1 * i
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=find_chromium(), args=LAUNCH_ARGS)
        try:
            page = chromium.new_page(viewport={"width": 1300, "height": 900})
            requests: list[str] = []
            page.on("request", lambda req: requests.append(req.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            fills: set[str] = set()
            for name, sub in graphs.items():
                path = write_view(sub, tmp_path / f"{name}.html")
                page.goto(Path(path).resolve().as_uri())
                page.wait_for_selector("body[data-rendered]", timeout=30_000)
                drawn = set(page.evaluate("() => fcgraphView.cy.nodes('.neuron:visible')"
                                          ".map(n => n.id())"))
                assert drawn == set(sub.nodes) and len(drawn) > 1
                edges = page.evaluate("""() => fcgraphView.cy.edges(':visible').map(e =>
                    [e.source().id(), e.target().id(), e.data('condition')])""")
                assert len(edges) == len(sub.edges) > 0
                assert {tuple(e) for e in edges} == sub.edge_keys()
                legend = page.locator("#legend").inner_text()
                assert ("gain" in legend) == (name == "neuron"), legend  # colour by gain if any
                items = page.locator("#legend .item").evaluate_all(
                    "els => els.map(e => [!!e.querySelector('.sw'), e.innerText.trim()])")
                assert items and all(sw and text for sw, text in items), items  # all named
                if name != "neuron":  # by layer: one named swatch per layer of the view
                    layers = {p["layer"] for p in sub.nodes.values()}
                    assert {t for _, t in items if t.startswith("layer ")} == {
                        f"layer {la}" for la in layers}
                first = page.evaluate("""() => { const c = fcgraphView.cy, n = c.nodes('.neuron')[0];
                    const box = c.container().getBoundingClientRect(), p = n.renderedPosition();
                    return [n.id(), box.left + p.x, box.top + p.y]; }""")
                page.mouse.move(first[1], first[2])
                assert page.locator("#tip").is_visible()
                assert page.locator("#tip").inner_text().startswith(first[0] + "\n")
                page.mouse.move(5, 5)
                assert not page.locator("#tip").is_visible()
                middle = page.evaluate("""() => { const c = fcgraphView.cy, e = c.edges()[0];
                    const box = c.container().getBoundingClientRect(), p = e.renderedMidpoint();
                    return [box.left + p.x, box.top + p.y]; }""")
                page.mouse.move(*middle)  # an edge: its properties (this one's or one crossing it)
                assert page.locator("#tip").is_visible()
                assert " -> " in page.locator("#tip").inner_text().split("\n")[0]
                page.screenshot(path=str(ARTIFACTS / f"view-{name}.png"))
                fills |= set(page.evaluate("() => fcgraphView.cy.nodes('.neuron')"
                                           ".map(n => n.style('background-color'))"))
            assert len(fills) > 1
            assert not errors, errors
            assert all(url.startswith("file://") for url in requests), requests
        finally:
            chromium.close()
