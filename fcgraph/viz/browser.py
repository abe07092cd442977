"""Neo4j Browser assets that ``fcgraph db start`` serves next to the Browser app.

Neo4j 5.26 Community serves Neo4j Browser at ``/browser/`` when the ``neo4j-browser`` jar
(``org.neo4j.client:neo4j-browser``) is on the server's classpath: its ``Neo4jBrowserModule``
mounts the classpath folder ``browser/`` of the *first* jar that has one. fcgraph therefore builds
an overlay jar (a copy of the Browser jar plus ``browser/fcgraph/...``) and puts it first on the
classpath, so the same HTTP port also serves:

- ``/browser/fcgraph/fcgraph.grass``: the style of ``cypher/browser/fcgraph.grass``;
- ``/browser/fcgraph/guide.html``: a Browser guide (``:play``) of the named queries.

``browser.post_connect_cmd`` runs ``:style`` and ``:play`` on those URLs after every connect
(the host is added to ``browser.remote_content_hostname_whitelist``).
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

#: The guide's first query: the run's neurons with most in-edges (every condition), from the
#: store's degree counts (a scan of the run's edges would take a minute on 25 M edges).
GUIDE_NEURONS = ("MATCH (n:Neuron {run_id: $run_id}) WITH n, COUNT { (n)<-[:FC]-() } AS in_edges "
                 "RETURN n.uid AS uid, in_edges ORDER BY in_edges DESC LIMIT 10")


def grass_path() -> Path:
    """The shipped Browser style sheet."""
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


def guide_html(http_url: str | None = None) -> str:
    """A Browser guide with one slide per named query: what it answers and runnable Cypher."""
    from fcgraph.graph import queries

    names = [n for n in queries.list_queries()["name"]]
    slides = [_slide("fcgraph: the named queries", (
        "<p>Each slide is one query of <code>cypher/</code>. Click a code block to put it in the "
        "editor and run it: first the parameters (<code>:params</code>, then each "
        "<code>:param name =&gt; value</code>, which keeps integers), then the query.</p>"
        "<p>List the runs:</p>" + _runnable("MATCH (r:Run) RETURN r.run_id AS run_id, r.created_at "
                                            "AS created ORDER BY created DESC")
        + "<p>Neurons of a run to try: </p>"
        + _runnable(GUIDE_NEURONS)
        + "<p>The style sheet (layers, captions) is applied on connect; reapply it with</p>"
        + _runnable(f":style {http_url}/browser/fcgraph/fcgraph.grass" if http_url else ":style")
    ))]
    for name in names:
        spec = queries.get_query(name)
        # Browser's `:params {...}` turns every number into a float, which LIMIT refuses;
        # `:param name => value` is evaluated by the server and keeps integers.
        params = ", ".join(
            f"{p.name}: {_cypher_literal(p.default) if not p.required else _placeholder(p.name)}"
            for p in spec.params.values() if p.type != "int")
        int_params = "".join(_runnable(f":param {p.name} => {_cypher_literal(p.default)}")
                             for p in spec.params.values() if p.type == "int")
        rows = "".join(
            f"<li><code>{html.escape(p.describe())}</code> {html.escape(p.help)}</li>"
            for p in spec.params.values())
        body = (f"<p>{html.escape(spec.description)}</p><ul>{rows}</ul>"
                + _runnable(f":params {{{params}}}") + int_params + _runnable(_body_of(spec.text)))
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


def _placeholder(name: str) -> str:
    return {"run_id": "'RUN'", "uid": "'RUN/LAYER/0'", "other_run_id": "'OTHER_RUN'",
            "condition": "'uniform:0.1'", "target_layer": "'LAYER'", "layer": "'LAYER'",
            "pre_layer": "'LAYER'"}.get(name, "'?'")


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


def post_connect_cmd(http_url: str) -> str:
    """``browser.post_connect_cmd``: apply the style, open the guide (commands joined by ``;``)."""
    base = f"{http_url}/browser/fcgraph"
    return f"style {base}/fcgraph.grass; play {base}/guide.html"


def browser_settings(http_port: int) -> str:
    """neo4j.conf lines for Browser: the post-connect commands and the allowed content host."""
    http_url = f"http://127.0.0.1:{http_port}"
    return (f"browser.post_connect_cmd={post_connect_cmd(http_url)}\n"
            "browser.remote_content_hostname_whitelist=127.0.0.1,localhost\n"
            "client.allow_telemetry=false\n")

