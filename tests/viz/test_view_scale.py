"""The offline view at scale: the layout (known coordinates for a small case) and a 5,000-edge
page in headless Chromium, offline, whose drawn edge counts under every filter equal a pandas
computation on the same edges."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fcgraph.viz.chromium import LAUNCH_ARGS, find_chromium
from fcgraph.viz.layout import COLUMN_GAP, layout
from fcgraph.viz.view import LIBRARY, Subgraph, graph_payload, render_html, write_view
from tests.helpers.browser import ARTIFACTS, require_chromium


def _neuron(layer: str, order: int, shape: tuple[int, ...], idx: int) -> dict:
    if len(shape) == 3:
        _, h, w = shape
        channel, y, x = idx // (h * w), (idx // w) % h, idx % w
    else:
        channel, y, x = idx, 0, 0
    return {"uid": f"r/{layer}/{idx}", "run_id": "r", "layer": layer, "layer_order": order,
            "idx": idx, "channel": channel, "y": y, "x": x}


def test_layout_places_conv_neurons_by_channel_and_position():
    shape = (4, 2, 3)  # C, H, W: idx = c*6 + y*3 + x
    nodes = {n["uid"]: n for n in (_neuron("conv", 0, shape, 0),    # ch 0 (0, 0)
                                    _neuron("conv", 0, shape, 5),    # ch 0 (1, 2)
                                    _neuron("conv", 0, shape, 19),   # ch 3 (0, 1)
                                    _neuron("fc", 1, (10,), 9),
                                    _neuron("fc", 1, (10,), 5))}
    placed = layout(nodes, {"conv": shape, "fc": (10,)})
    # blocks of the channels present (0 and 3) side by side, 3 x 12 wide + a 24 gap; the
    # column (0 .. 12 in y) centred on y = 0; the fc column COLUMN_GAP right of x = 84
    assert placed.positions == {"r/conv/0": (0.0, -6.0), "r/conv/5": (24.0, 6.0),
                                "r/conv/19": (72.0, -6.0),
                                "r/fc/5": (84.0 + COLUMN_GAP, -6.0),
                                "r/fc/9": (84.0 + COLUMN_GAP, 6.0)}
    headings = {(lb["kind"], lb["text"]): (lb["x"], lb["y"]) for lb in placed.labels}
    assert headings == {("channel", "ch 0"): (12.0, -18.0), ("channel", "ch 3"): (72.0, -18.0),
                        ("layer", "conv (3)"): (42.0, -42.0),
                        ("layer", "fc (2)"): (84.0 + COLUMN_GAP, -42.0)}
    # without shapes, a conv layer is known by its positions and sized by the largest seen
    assert layout(nodes).positions["r/conv/5"] == (24.0, 6.0)
    # five channels: blocks three to a row, a channel's neurons keep their place in the block
    many = {n["uid"]: n for n in (_neuron("conv", 0, shape, c * 6 + 4) for c in range(5))}
    pos = layout(many, {"conv": shape}).positions
    assert [pos[f"r/conv/{c * 6 + 4}"] for c in range(5)] == [
        (12.0, -18.0), (72.0, -18.0), (132.0, -18.0), (12.0, 30.0), (72.0, 30.0)]


LAYERS = {"layer1.sn": (1, (8, 6, 6)), "layer2.sn": (2, (16, 4, 4)), "fc1.sn": (3, (100,))}
CONDITIONS = ("clean", "uniform:0.2")


def _big_view(n_edges: int = 5000, seed: int = 0) -> Subgraph:
    """A view of two conv layers and a dense one: every neuron, ``n_edges`` distinct edges over
    two conditions with random z (a few without z), a gain on a tenth of the neurons."""
    rng = np.random.default_rng(seed)
    nodes = {}
    for layer, (order, shape) in LAYERS.items():
        for idx in range(int(np.prod(shape))):
            n = _neuron(layer, order, shape, idx)
            if rng.random() < 0.1:
                n["gain"] = float(rng.normal())
            nodes[n["uid"]] = n
    pairs = [("layer1.sn", "layer2.sn"), ("layer2.sn", "fc1.sn")]
    keys: set[tuple[str, str, str]] = set()
    edges = []
    while len(edges) < n_edges:
        pre_layer, post_layer = pairs[rng.integers(2)]
        pre = f"r/{pre_layer}/{rng.integers(np.prod(LAYERS[pre_layer][1]))}"
        post = f"r/{post_layer}/{rng.integers(np.prod(LAYERS[post_layer][1]))}"
        key = (pre, post, CONDITIONS[rng.integers(2)])
        if key not in keys:
            keys.add(key)
            z = None if rng.random() < 0.01 else float(rng.uniform(1, 12))
            edges.append({"pre": pre, "post": post, "condition": key[2], "z": z,
                          "value": float(rng.random())})
    return Subgraph("r", f"{n_edges} edges", nodes=nodes, edges=edges,
                    focus=["r/layer2.sn/37"],
                    shapes={name: list(shape) for name, (_, shape) in LAYERS.items()})


def test_payload_places_every_neuron_and_inlines_the_library():
    sub = _big_view(200)
    payload = graph_payload(sub)
    placed = layout(sub.nodes, sub.shapes).positions
    assert {n["uid"]: (n["x"], n["y"]) for n in payload["nodes"]} == placed
    assert [la["name"] for la in payload["layers"]] == ["layer1.sn", "layer2.sn", "fc1.sn"]
    page = render_html(sub)
    library = LIBRARY.read_text(encoding="utf-8")
    assert library in page and "Permission is hereby granted" in library  # MIT notice inline
    assert (LIBRARY.parent / "LICENSE").read_text().startswith("Copyright (c)")
    digest = hashlib.sha256(LIBRARY.read_bytes()).hexdigest()
    assert digest in (LIBRARY.parent / "README.md").read_text()  # the file its README describes


def _expected(sub: Subgraph, condition: str = "", min_z: float | None = None,
              layers: tuple[str, ...] = tuple(LAYERS)) -> int:
    """The reference: the edges the page should draw, computed on the same edges with pandas."""
    edges = pd.DataFrame(sub.edges)
    layer = {uid: p["layer"] for uid, p in sub.nodes.items()}
    keep = edges["pre"].map(layer).isin(layers) & edges["post"].map(layer).isin(layers)
    if condition:
        keep &= edges["condition"] == condition
    if min_z is not None:
        keep &= edges["z"].astype(float) >= min_z  # no z: NaN, never >= min_z
    return int(keep.sum())


@pytest.mark.slow
@pytest.mark.browser
def test_chromium_draws_5000_edges_offline_and_filters_exactly(tmp_path):
    require_chromium()
    from playwright.sync_api import sync_playwright

    sub = _big_view(5000)
    assert len(sub.edges) == 5000
    path = write_view(sub, tmp_path / "big.html")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=find_chromium(), args=LAUNCH_ARGS)
        try:
            context = chromium.new_context(offline=True, viewport={"width": 1400, "height": 900})
            requests: list[str] = []
            context.on("request", lambda req: requests.append(req.url))
            context.route("**/*", lambda route: route.abort()
                          if not route.request.url.startswith("file:") else route.continue_())
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(Path(path).resolve().as_uri())
            page.wait_for_selector("body[data-rendered]", timeout=60_000)
            drawn = "() => fcgraphView.drawnEdges()"
            assert page.evaluate(drawn) == 5000
            assert page.evaluate("() => fcgraphView.cy.edges().length") == 5000
            assert page.evaluate("() => fcgraphView.drawnNodes()") == len(sub.nodes)
            assert "5000 of 5000 FC edges drawn" in page.locator("#meta").inner_text()
            # the canvas is painted where the layout puts the neurons
            painted = page.evaluate("""() => [...document.querySelectorAll('#cy canvas')].map(c => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n; })""")
            assert sum(painted) > 10_000, painted
            page.screenshot(path=str(ARTIFACTS / "view-5000-edges.png"))

            def set_min_z(value: float) -> float:
                return page.eval_on_selector("#minz", """(el, v) => { el.value = String(v);
                    el.dispatchEvent(new Event('input')); return Number(el.value); }""", value)

            page.select_option("#condition", "uniform:0.2")
            assert page.evaluate(drawn) == _expected(sub, "uniform:0.2") < 5000
            page.select_option("#condition", "")
            t = set_min_z(7.25)
            assert page.evaluate(drawn) == _expected(sub, min_z=t) < 5000
            page.uncheck("input.layer-filter[value='fc1.sn']")
            assert page.evaluate(drawn) == _expected(sub, min_z=t, layers=("layer1.sn", "layer2.sn"))
            assert page.evaluate("() => fcgraphView.drawnNodes()") == len(sub.nodes) - 100
            page.select_option("#condition", "clean")
            t = set_min_z(3.5)
            both = _expected(sub, "clean", t, ("layer1.sn", "layer2.sn"))
            assert page.evaluate(drawn) == both == int(page.get_attribute("body", "data-drawn-edges"))
            page.check("input.layer-filter[value='fc1.sn']")
            page.select_option("#condition", "")
            low = page.eval_on_selector("#minz", "el => Number(el.min)")
            assert set_min_z(low) == low  # the slider's lowest position: no z filter at all
            assert page.evaluate(drawn) == 5000 == _expected(sub)

            # search: a uid, a layer/idx, an unknown name
            target = "r/fc1.sn/42"
            page.fill("#search", target)
            page.press("#search", "Enter")
            assert page.locator("#search-status").inner_text() == f"found {target}"
            assert page.evaluate("() => fcgraphView.cy.$('node.found').map(n => n.id())") == [target]
            centre = page.evaluate("""() => { const c = fcgraphView.cy, p = c.$('node.found')
                .renderedPosition(); return [p.x - c.width() / 2, p.y - c.height() / 2]; }""")
            assert max(abs(v) for v in centre) < 1
            assert page.evaluate("() => fcgraphView.search('layer1.sn/7')") == "r/layer1.sn/7"
            page.fill("#search", "no-such-neuron")
            page.press("#search", "Enter")
            assert "no neuron matches" in page.locator("#search-status").inner_text()

            # the legend: every swatch named, under either edge colouring
            for colour in ("condition", "z"):
                page.select_option("#edge-colour", colour)
                labels = page.locator("#legend .item").evaluate_all(
                    "els => els.map(e => [!!e.querySelector('.sw'), e.innerText.trim()])")
                assert labels and all(has and text for has, text in labels), labels
                texts = [text for _, text in labels]
                assert "no gain (not analysed)" in texts and "search result" in texts
                assert ("edges: clean" in texts) == (colour == "condition")
                assert ("edge without z" in texts) == (colour == "z")
            page.screenshot(path=str(ARTIFACTS / "view-5000-edges-by-z.png"))
            assert not errors, errors
            assert all(url.startswith("file://") for url in requests), requests
        finally:
            chromium.close()
