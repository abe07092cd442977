"""Neo4j Browser assets that ``fcgraph db start`` serves next to the Browser app.

Neo4j 5.26 Community serves Neo4j Browser at ``/browser/`` when the ``neo4j-browser`` jar
(``org.neo4j.client:neo4j-browser``) is on the server's classpath: its ``Neo4jBrowserModule``
mounts the classpath folder ``browser/`` of the *first* jar that has one. fcgraph therefore builds
an overlay jar (a copy of the Browser jar plus ``browser/fcgraph/...``) and puts it first on the
classpath, so the same HTTP port also serves:

- ``/browser/fcgraph/fcgraph.grass``: the style of ``cypher/browser/fcgraph.grass``;
- ``/browser/fcgraph/guide.html``: a Browser guide of the named queries, whose parameter blocks
  look their values up in the graph.

``browser.post_connect_cmd`` turns Browser's "Connect result nodes" off, then runs ``:style`` and
``:guide`` (the sidebar) on those URLs after every connect (the host is added to
``browser.remote_content_hostname_whitelist``). The style sheet is generated
(``python -m fcgraph.viz.browser``; ``--check`` exits 1 when the shipped file is stale).
"""

from __future__ import annotations

import hashlib
import html
import shutil
import zipfile
from pathlib import Path

from fcgraph.errors import FcgraphError
from fcgraph.paths import cypher_dir

ASSET_PREFIX = "browser/fcgraph/"
OVERLAY_NAME = "fcgraph-browser.jar"


#: Graph-returning forms of named queries, for drawing in Browser (the named queries return tables).
GRAPH_QUERIES: dict[str, str] = {
    "ensemble": """MATCH (c:Condition {run_id: $run_id, name: $condition})
MATCH (post:Neuron {uid: $uid}) WHERE post.run_id = $run_id
MATCH p = (pre:Neuron)-[r:FC]->(post)
WHERE r.condition = $condition AND r.gen = c.gen AND ($min_z IS NULL OR r.z >= $min_z)
RETURN p ORDER BY r.z DESC, pre.layer, pre.idx LIMIT toInteger($limit)""",
    "pathways": """MATCH (c:Condition {run_id: $run_id, name: $condition})
MATCH (s:Neuron {uid: $uid}) WHERE s.run_id = $run_id
MATCH (tl:Layer {run_id: $run_id, name: $target_layer})
CALL (s, c, tl) {
  MATCH p = (s) ((a:Neuron)-[r:FC]->(b:Neuron)
                 WHERE r.condition = c.name AND r.gen = c.gen AND b.layer_order <= tl.order
                   AND ($min_z IS NULL OR r.z >= $min_z))+ (t:Neuron)
  WHERE t.layer = tl.name AND t.run_id = $run_id
  RETURN p LIMIT toInteger($max_paths)
}
WITH p, reduce(acc = 0.0, r IN relationships(p) | acc + r.z) AS sum_z,
     [n IN nodes(p) | n.uid] AS uids
RETURN p ORDER BY sum_z DESC, uids LIMIT toInteger($k)""",
}

#: The guide's parameter blocks pick their values in the graph: ``r`` is the newest run (edit this
#: line of a block to pick another run, e.g. ``MATCH (r:Run {run_id: 'r2'})``).
GUIDE_RUN = "MATCH (r:Run) WITH r ORDER BY r.created_at DESC LIMIT 1"
_HUB_IN = ("COLLECT { MATCH (n:Neuron {run_id: r.run_id}) "
           "RETURN n.uid ORDER BY COUNT { (n)<-[:FC]-() } DESC, n.uid LIMIT 1 }[0]")
_HUB_OUT = ("COLLECT { MATCH (n:Neuron {run_id: r.run_id}) "
            "RETURN n.uid ORDER BY COUNT { (n)-[:FC]->() } DESC, n.uid LIMIT 1 }[0]")
#: Cypher expressions (over ``r``) for the required parameters: the run, another run, a
#: perturbed condition (not the run's loss baseline), a hub neuron, the run's last layer.
GUIDE_VALUES: dict[str, str] = {
    "run_id": "r.run_id",
    "other_run_id": ("coalesce(COLLECT { MATCH (o:Run) WHERE o.run_id <> r.run_id "
                     "RETURN o.run_id ORDER BY o.created_at DESC LIMIT 1 }[0], r.run_id)"),
    "condition": ("coalesce(COLLECT { MATCH (r)-[:HAS_CONDITION]->(c:Condition) "
                  "WHERE c.name <> coalesce(r.loss_baseline, 'clean') "
                  "RETURN c.name ORDER BY c.name LIMIT 1 }[0], 'clean')"),
    "uid": _HUB_IN,
    "target_layer": ("COLLECT { MATCH (r)-[:HAS_LAYER]->(l:Layer) "
                     "RETURN l.name ORDER BY l.order DESC LIMIT 1 }[0]"),
}
#: Per query, values that differ from GUIDE_VALUES or replace a default: a pathway starts at
#: the neuron with most out-edges (the in-hub may sit in the last layer).
GUIDE_QUERY_VALUES: dict[str, dict[str, str]] = {"pathways": {"uid": _HUB_OUT}}

#: The guide's first queries: the runs with their conditions and layers, and the neurons of the
#: newest run with most in-edges (every condition), from the store's degree counts (a scan of the
#: run's edges would take a minute on 25 M edges).
GUIDE_RUNS = ("MATCH (r:Run) RETURN r.run_id AS run_id, r.created_at AS created, "
              "COLLECT { MATCH (r)-[:HAS_CONDITION]->(c:Condition) RETURN c.name ORDER BY c.name } "
              "AS conditions, COLLECT { MATCH (r)-[:HAS_LAYER]->(l:Layer) RETURN l.name "
              "ORDER BY l.order } AS layers ORDER BY created DESC")
GUIDE_NEURONS = (GUIDE_RUN + " MATCH (n:Neuron {run_id: r.run_id}) "
                 "WITH n, COUNT { (n)<-[:FC]-() } AS in_edges "
                 "RETURN n.uid AS uid, in_edges ORDER BY in_edges DESC, uid LIMIT 10")

#: Neuron colours: a ramp by layer order (the L<order> label the ingest sets), blue (input
#: side) through green, yellow and red to purple over RAMP_SPAN layers, then again; one rule
#: per order up to LAYER_RULES (Browser styles by label only, so the rules are spelled out).
RAMP_STOPS = ("#3D6FD6", "#3FB7D9", "#5DBE7A", "#C9C94A", "#F2A541", "#E8603C", "#B5489B")
RAMP_SPAN = 24
LAYER_RULES = 128


def layer_color(order: int, span: int = RAMP_SPAN) -> str:
    """The ramp colour of layer ``order`` (``#RRGGBB``) on a ramp of ``span`` layers (repeated)."""
    t = (order % span) / max(span - 1, 1) * (len(RAMP_STOPS) - 1)
    i = min(int(t), len(RAMP_STOPS) - 2)
    a, b = _rgb(RAMP_STOPS[i]), _rgb(RAMP_STOPS[i + 1])
    return _hex(tuple(x + (y - x) * (t - i) for x, y in zip(a, b, strict=True)))


def _rgb(color: str) -> tuple[float, float, float]:
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def _hex(rgb: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(min(255.0, max(0.0, c))):02X}" for c in rgb)


def _text_color(color: str) -> str:
    r, g, b = _rgb(color)
    return "#2A2C34" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#FFFFFF"


_GRASS_HEAD = """node {
  diameter: 40px;
  color: #A5ABB6;
  border-color: #9AA1AC;
  border-width: 2px;
  text-color-internal: #FFFFFF;
  font-size: 10px;
}
node.Neuron {
  diameter: 64px;
  font-size: 8px;
  color: #4C8EDA;
  border-color: #2870C2;
  text-color-internal: #FFFFFF;
  caption: '{layer} {idx}';
}
"""
_GRASS_TAIL = """node.Layer {
  diameter: 60px;
  color: #2A2C34;
  border-color: #000000;
  text-color-internal: #FFFFFF;
  caption: '{name}';
}
node.Run {
  diameter: 70px;
  color: #FFC454;
  border-color: #D7A013;
  text-color-internal: #2A2C34;
  caption: '{run_id}';
}
node.Condition {
  diameter: 50px;
  color: #C990C0;
  border-color: #B261A5;
  text-color-internal: #FFFFFF;
  caption: '{name}';
}
relationship {
  color: #A5ABB6;
  shaft-width: 1px;
  font-size: 8px;
  padding: 3px;
  text-color-external: #000000;
  text-color-internal: #FFFFFF;
  caption: '<type>';
}
relationship.FC {
  color: #F79767;
  shaft-width: 2px;
  caption: '{condition}';
}
relationship.FEEDS {
  color: #2A2C34;
  shaft-width: 3px;
}
"""


def build_grass() -> str:
    """The style sheet: base rules, one ramp colour per layer-order label, then the other labels.

    Neuron captions are ``layer idx``: Browser breaks a caption into lines at spaces and cuts a
    word that does not fit with an ellipsis, so ``layer/idx`` as one word lost its index.
    """
    layers = []
    for order in range(LAYER_RULES):
        color = layer_color(order)
        border = _hex(tuple(c * 0.8 for c in _rgb(color)))
        layers.append(f"node.L{order} {{ color: {color}; border-color: {border}; "
                      f"text-color-internal: {_text_color(color)}; }}\n")
    return _GRASS_HEAD + "".join(layers) + _GRASS_TAIL


def grass_path() -> Path:
    """The shipped Browser style sheet (generated: ``python -m fcgraph.viz.browser``)."""
    return cypher_dir() / "browser" / "fcgraph.grass"


def read_grass() -> str:
    """The text of the shipped style sheet."""
    path = grass_path()
    if not path.exists():
        raise FcgraphError(f"{path}: the Browser style sheet is missing")
    return path.read_text()


def parse_grass(text: str) -> dict[str, dict[str, str]]:
    """Parse GRASS the way Neo4j Browser 5 does (selector -> {property: value}).

    Browser splits declarations on ``;`` and each declaration on ``:``, keeping only those with
    exactly one ``:``; a comment would become part of the next selector. This parser mirrors that,
    so a test can check that every rule of the shipped file survives Browser's parser.
    """
    rules: dict[str, dict[str, str]] = {}
    selector, body, in_body, in_quote = "", "", False, False
    for ch in text:
        if ch in "'\"":
            in_quote = not in_quote
        if ch == "{" and not in_quote:
            in_body = True
            continue
        if ch == "}" and not in_quote:
            decls: dict[str, str] = {}
            for part in body.split(";"):
                kv = part.split(":")
                if len(kv) == 2:
                    decls[kv[0].strip()] = kv[1].strip()
            rules[selector] = decls
            selector, body, in_body = "", "", False
            continue
        if in_body:
            body += ch
        elif not ch.isspace():
            selector += ch
    return rules


def param_block(name: str) -> str:
    """The guide's parameter command for query ``name``: one ``:param`` whose values the server
    computes from the graph (the newest run, a perturbed condition, a hub neuron, the last layer)
    or takes from the query's defaults. Browser keeps the server's integers as integers."""
    from fcgraph.graph import queries

    spec = queries.get_query(name)
    values = {**GUIDE_VALUES, **GUIDE_QUERY_VALUES.get(name, {})}
    columns = []
    for p in spec.params.values():
        if p.required or p.name in GUIDE_QUERY_VALUES.get(name, {}):
            if p.name not in values:
                raise FcgraphError(f"the guide has no value for parameter {p.name} of {name}")
            expr = values[p.name]
        else:
            expr = _cypher_literal(p.default)
        columns.append((p.name, expr))
    names = ", ".join(n for n, _ in columns)
    returns = ", ".join(f"{expr} AS {n}" for n, expr in columns)
    return f":param [{{{names}}}] => {{ {GUIDE_RUN} RETURN {returns} }}"


def param_query(block: str) -> str:
    """The Cypher inside a :func:`param_block` (what Browser sends to the server)."""
    return block.split("=> {", 1)[1].rsplit("}", 1)[0].strip()


def guide_slide_names() -> list[str]:
    """The guide's slide titles after the first: the named queries, in slide order."""
    from fcgraph.graph import queries

    return ["fcgraph", *queries.list_queries()["name"]]


def guide_html(http_url: str | None = None) -> str:
    """A Browser guide with one slide per named query: what it answers and runnable Cypher."""
    from fcgraph.graph import queries

    names = guide_slide_names()[1:]
    slides = [_slide("fcgraph: the named queries", (
        "<p>Each slide is one query of <code>cypher/</code>. Click a code block to put it in the "
        "editor and run it: first the parameters (one <code>:param</code> that looks them up in "
        "the graph: the newest run, one of its perturbed conditions, a hub neuron; edit its "
        "<code>MATCH (r:Run)</code> to pick another run), then the query.</p>"
        "<p>The runs, their conditions and layers:</p>" + _runnable(GUIDE_RUNS)
        + "<p>The newest run's neurons with most in-edges:</p>" + _runnable(GUIDE_NEURONS)
        + "<p>Browser draws only the relationships a query returns (fcgraph turns "
          "<em>Connect result nodes</em> off on connect; it would add every other condition's "
          "edges between the drawn neurons). The style sheet (a colour per layer, captions "
          "<code>layer idx</code>) is applied on connect; reapply it with</p>"
        + _runnable(f":style {http_url}/browser/fcgraph/fcgraph.grass" if http_url else ":style")
    ))]
    for name in names:
        spec = queries.get_query(name)
        rows = "".join(
            f"<li><code>{html.escape(p.describe())}</code> {html.escape(p.help)}</li>"
            for p in spec.params.values())
        body = (f"<p>{html.escape(spec.description)}</p><ul>{rows}</ul>"
                + _runnable(param_block(name)) + _runnable(_body_of(spec.text)))
        if name in GRAPH_QUERIES:
            body += "<p>Draw it as a graph:</p>" + _runnable(GRAPH_QUERIES[name])
        slides.append(_slide(name, body))
    return ("<article class=\"guide\"><carousel class=\"deck container-fluid\">"
            + "".join(slides) + "</carousel></article>\n")


def _slide(title: str, body: str) -> str:
    return (f"<slide class=\"row-fluid\"><div class=\"col-sm-12\"><h3>{html.escape(title)}</h3>"
            f"{body}</div></slide>")


def _runnable(code: str) -> str:
    return f"<pre mode=\"cypher\" class=\"pre-scrollable code runnable\">{html.escape(code)}</pre>"


def _body_of(text: str) -> str:
    """The query without its comment header."""
    lines = text.splitlines()
    while lines and (lines[0].startswith("//") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines).strip()


def _cypher_literal(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _browser_jar(lib: Path) -> Path | None:
    jars = sorted(lib.glob("neo4j-browser-*.jar"))
    return jars[-1] if jars else None


def assets(http_url: str) -> dict[str, bytes]:
    """The files served under ``/browser/fcgraph/`` (name -> content)."""
    return {
        "fcgraph.grass": read_grass().encode(),
        "guide.html": guide_html(http_url).encode(),
    }


def build_overlay(lib: Path, dest_dir: Path, http_url: str) -> Path | None:
    """Write (when changed) the overlay jar: the Browser jar of ``lib`` plus fcgraph's assets.

    Returns its path, or None when ``lib`` has no ``neo4j-browser`` jar (Browser not installed).
    """
    source = _browser_jar(lib)
    if source is None:
        return None
    files = assets(http_url)
    digest = hashlib.sha256(source.name.encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    stamp_text = digest.hexdigest()
    dest_dir.mkdir(parents=True, exist_ok=True)
    overlay = dest_dir / OVERLAY_NAME
    stamp = dest_dir / (OVERLAY_NAME + ".sha256")
    if overlay.exists() and stamp.exists() and stamp.read_text().strip() == stamp_text:
        return overlay
    partial = dest_dir / (OVERLAY_NAME + ".partial")
    shutil.copyfile(source, partial)
    with zipfile.ZipFile(partial, "a", compression=zipfile.ZIP_DEFLATED) as jar:
        existing = set(jar.namelist())
        if ASSET_PREFIX not in existing:
            jar.writestr(ASSET_PREFIX, b"")
        for name, content in files.items():
            jar.writestr(ASSET_PREFIX + name, content)
    partial.replace(overlay)
    stamp.write_text(stamp_text + "\n")
    return overlay


#: Browser's setting for "Connect result nodes" (Settings drawer): when on, Browser runs a second
#: query for every relationship between the drawn nodes, so a neuron's 1FC group under one
#: condition is drawn with every other condition's edges between the same neurons too.
CONNECT_RESULT_NODES = "autoComplete"


def post_connect_cmd(http_url: str) -> str:
    """``browser.post_connect_cmd`` (commands joined by ``;``): draw only what a query returns
    (Connect result nodes off), apply the style, and open the guide in the sidebar (``:guide``,
    so no frame of the stream sits above or over it)."""
    base = f"{http_url}/browser/fcgraph"
    return (f"config {CONNECT_RESULT_NODES}: false; style {base}/fcgraph.grass; "
            f"guide {base}/guide.html")


def browser_settings(http_port: int) -> str:
    """neo4j.conf lines for Browser: the post-connect commands and the allowed content host."""
    http_url = f"http://127.0.0.1:{http_port}"
    return (f"browser.post_connect_cmd={post_connect_cmd(http_url)}\n"
            "browser.remote_content_hostname_whitelist=127.0.0.1,localhost\n"
            "client.allow_telemetry=false\n")


def main(argv: list[str] | None = None) -> int:
    """``python -m fcgraph.viz.browser [--check]``: write (or check) ``cypher/browser/fcgraph.grass``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Write the Neo4j Browser style sheet of fcgraph.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    path, text = grass_path(), build_grass()
    if args.check:
        if not path.exists() or path.read_text() != text:
            print(f"{path} is out of date: run python -m fcgraph.viz.browser", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
