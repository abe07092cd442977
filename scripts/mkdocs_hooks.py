"""MkDocs hook (mkdocs.yml ``hooks:``): the manual's generated parts, made at build time.

A page asks for generated text with a marker comment on a line of its own:

- ``<!-- generated: cli -->``: the command-line reference, walked from the Typer app
  (``fcgraph.cli:app``): each command's help, usage, arguments and options;
- ``<!-- generated: queries -->``: the query reference, from the headers of the ``cypher/*.cypher``
  files, parsed by :func:`fcgraph.graph.queries.get_query` (the parser ``fcgraph query`` uses);
- ``<!-- generated: findings -->``: the five findings' claims, statistics and criteria, from
  :func:`fcgraph.analysis.findings.criteria_markdown`;
- ``<!-- generated: benchmark NAME -->``: the tables of ``benchmarks/results/NAME.json``;
  ``<!-- generated: benchmark-files -->``: one line per results file (and the tables of any file
  no page asks for by name);
- ``<!-- include: PATH#HEADING -->``: the section ``## HEADING`` of the repository file PATH
  (its text up to the next heading of the same level).

Nothing generated is committed; an unknown marker fails the build.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

RESULTS = ROOT / "benchmarks" / "results"
MARKER = re.compile(r"^<!-- (generated|include): (.+?) -->$", re.M)


# ----------------------------------------------------------------------------- helpers

def _cell(text: Any) -> str:
    """Text for one Markdown table cell (pipes escaped, one line)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]], align: str | None = None) -> str:
    """A Markdown table; ``align`` is one letter per column, ``l`` or ``r``."""
    align = align or "l" * len(header)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _num(value: Any, digits: int = 3) -> str:
    """A number for a table: integers with thousands separators, floats to ``digits`` significant."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:,.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"
    return str(value)


def _machine(data: dict[str, Any]) -> str:
    """``measured DATE on MACHINE`` from a results record, as far as it says."""
    machine = data.get("machine")
    if isinstance(machine, dict):
        machine = ", ".join(f"{k} {v}" for k, v in machine.items() if k != "platform")
    parts = [f"measured {data['date']}" if data.get("date") else "", f"on {machine}" if machine else ""]
    text = " ".join(p for p in parts if p)
    command = data.get("command")
    if command:
        text += f"{'; ' if text else ''}command: `{command}`"
    return f"*{text[0].upper() + text[1:]}.*" if text else ""


# ----------------------------------------------------------------------------- CLI reference

def _command_section(command: Any, path: list[str], parent: Any, level: int) -> list[str]:
    """Markdown for one command and, below it, each of its sub-commands."""
    ctx = command.context_class(command, info_name=path[-1], parent=parent)
    name = " ".join(path)
    out = [f"{'#' * level} `{name}`", ""]
    if command.help:
        out += [command.help.replace("\b\n", "").strip(), ""]
    out += ["```text", ctx.get_usage(), "```", ""]
    rows = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        opts, help_text = record
        # an option's choices as <a/b/c>: a pipe in a code span of a table cell stays escaped
        rows.append([f"`{opts.replace('|', '/')}`", help_text])
    if rows:
        out += [_table(["argument or option", "meaning"], rows), ""]
    if getattr(command, "epilog", None):
        out += [command.epilog.strip(), ""]
    subcommands = getattr(command, "commands", {})
    if subcommands:
        out += ["Commands: " + ", ".join(f"`{name} {sub}`" for sub in subcommands) + ".", ""]
        for sub_name, sub in subcommands.items():
            if not getattr(sub, "hidden", False):
                out += _command_section(sub, [*path, sub_name], ctx, min(level + 1, 4))
    return out


def cli_reference() -> str:
    """Every command of ``fcgraph``, from the Typer app's command tree."""
    import typer.main

    from fcgraph.cli import app

    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="fcgraph")
    out = [root.help.strip() if root.help else "", "", "```text", ctx.get_usage(), "```", ""]
    options = [[f"`{r[0]}`", r[1]] for p in root.params if (r := p.get_help_record(ctx))]
    if options:
        out += [_table(["option", "meaning"], options), ""]
    for name, command in root.commands.items():
        if not getattr(command, "hidden", False):
            out += _command_section(command, ["fcgraph", name], ctx, 2)
    return "\n".join(out)


# ----------------------------------------------------------------------------- query reference

def query_reference() -> str:
    """One section per named query, from its ``.cypher`` header."""
    from fcgraph.graph.queries import get_query, list_queries

    specs = [get_query(name) for name in list_queries()["name"]]
    out = [_table(["query", "description"], [[f"[`{s.name}`](#{s.name})", s.description] for s in specs]), ""]
    for spec in specs:
        name = spec.name
        out += [f"## `{name}`", "", spec.description, "",
                f"File `cypher/{spec.path.name}`; run it with `fcgraph query {name} -p key=value ...` or "
                f"`fcgraph.graph.queries.run_query(driver, \"{name}\", {{...}})`.", ""]
        rows = []
        for param in spec.params.values():
            kind = param.describe().split(": ", 1)[1].split(" = ", 1)[0]
            default = "required" if param.required else ("null" if param.default is None
                                                         else f"`{param.default}`")
            rows.append([f"`{param.name}`", f"`{kind}`", default, param.help])
        if rows:
            out += [_table(["parameter", "type", "default", "meaning"], rows), ""]
        facts = []
        if spec.one_of:
            facts.append("exactly one of " + ", ".join(f"`{p}`" for p in spec.one_of) + " must be given")
        if spec.timeout:
            facts.append(f"default transaction timeout {_num(spec.timeout)} s")
        if spec.needs_all_edges:
            facts.append("counts the loaded edges: warns when the condition it reads (parameter "
                         + ", ".join(f"`{c}`" for _, c in spec.needs_all_edges)
                         + ") was loaded as a subset (`complete: false`)")
        if facts:
            out += ["- " + f for f in facts] + [""]
        if spec.returns:
            out += [f"**Returns:** {spec.returns}", ""]
        if spec.note:
            out += [f"**Note:** {spec.note}", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------- benchmarks

def _ingest(data: dict[str, Any]) -> str:
    rates = data["edges_per_second"]
    base = rates.get("csv export + import")
    rows = [[k, _num(round(v)), f"{v / base:.2f}x" if base and k.startswith("unwind") else ""]
            for k, v in rates.items()]
    return (f"{_num(data['edges'])} edges. " + _machine(data) + "\n\n"
            + _table(["loader", "edges/s", "vs. CSV export + import"], rows, "lrr"))


def _bulk(data: dict[str, Any]) -> str:
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in data.get("bulk_stages", {}).items())
    rows = [["`fcgraph ingest --method bulk` end to end", f"{data['bulk_seconds']:.1f}",
             _num(round(data["bulk_edges_per_second"]))],
            [f"of which: {stages}", "", ""],
            ["`neo4j-admin database import full` alone", f"{data['import_seconds']:.1f}",
             _num(round(data["import_edges_per_second"]))]]
    if data.get("export_seconds"):
        rows.append(["`export-csv` alone", f"{data['export_seconds']:.1f}",
                     _num(round(data["edges"] / data["export_seconds"]))])
    return (f"{_num(data['edges'])} edges of `{data.get('run', '')}`; end to end / importer alone = "
            f"**{data['ratio_bulk_to_import']:.2f}x**. " + _machine(data) + "\n\n"
            + _table(["step", "seconds", "edges/s"], rows, "lrr"))


def _queries(data: dict[str, Any]) -> str:
    base = data.get("baseline", {})
    rows = [[f"baseline: {base.get('what', '')} ({_num(base.get('edges'))} edges)", "",
             _num(base.get("warm_s")), "", ""]]
    for q in data["queries"]:
        rows.append([q["label"], _num(q.get("cold_s")), _num(q.get("warm_s")),
                     f"< {_num(q.get('limit_s'))} s: {'met' if q.get('within_limit') else 'missed'}",
                     _num(q.get("rows"))])
    return (f"Run `{data.get('run_id')}`, {_num(data.get('live_edges'))} live edges, each query cold "
            f"then {data.get('repeat')} times warm (median). " + _machine(data) + "\n\n"
            + _table(["query", "cold s", "warm s", "goal", "rows"], rows, "lrrlr"))


def _fc(data: dict[str, Any]) -> str:
    out = []
    pair = data.get("pair")
    if pair:
        rounds = pair.get("rounds", {})
        rows = [[k, f"{v:.2f}", ", ".join(f"{r:.2f}" for r in rounds.get(k, []))]
                for k, v in pair["seconds"].items()]
        ratios = "; ".join(f"{k}: **{v:.3g}**" for k, v in pair.get("ratios", {}).items())
        out += [f"**A layer pair**: {pair['neurons']} x {pair['neurons']} neurons, {_num(pair['bins'])} "
                f"bins, T = {pair['T']}; best of the rounds. " + _machine(pair), "",
                _table(["computation", "seconds", "rounds"], rows, "lrl"), "", f"Ratios: {ratios}.", ""]
    cond = data.get("condition")
    if cond:
        rows = [[k, _num(v)] for k, v in cond["seconds"].items() if v is not None]
        out += [f"**A whole condition**: {cond['what']}, {cond['layer_pairs']} layer pairs, "
                f"{_num(cond['neuron_pairs'])} neuron pairs. " + _machine(cond), "",
                _table(["computation", "seconds"], rows, "lr"), ""]
        if cond.get("note"):
            out += [f"Note: {cond['note']}.", ""]
        per_pair = cond.get("per_pair_exact_images") or []
        if per_pair:
            out += [_table(["layer pair (exact whole-image null)", "seconds", "tested", "significant"],
                           [[p["pair"], _num(p["seconds"]), _num(p["tested"]), _num(p["significant"])]
                            for p in per_pair], "lrrr"), ""]
    return "\n".join(out)


def _false_edges(data: dict[str, Any]) -> str:
    out = []
    for label, run in data.items():
        summary = run.get("summary", {})
        worst = summary.get("worst_mean_ratio", {})
        rows = []
        for p in run.get("layer_pairs", []):
            n, c = p["normal"], p["control"]
            rows.append([f"{p['pre_layer']} -> {p['post_layer']}", _num(p["tested"]),
                         f"{n['ratio']:.2f}x", _num(n["edges"]), f"{c['z']:.3f} ({c.get('draws', '')})",
                         f"{c['ratio']:.2f}x [{c['ratio_min']:.2f}-{c['ratio_max']:.2f}]",
                         _num(c["edges"])])
        e2e = run.get("end_to_end_seconds")
        cost = (f" End to end: control rule {e2e['control']:.0f} s, normal rule {e2e['normal']:.0f} s "
                f"(**{e2e['ratio']:.2f}x**)." if e2e else "")
        out += [f"**`{label}`**: condition `{run['condition']}`, {_num(run['n_images'])} images, "
                f"z = {run['z']}; worst layer pair: normal rule {worst.get('normal', 0):.2f}x, control "
                f"rule {worst.get('control', 0):.2f}x the nominal rate.{cost} " + _machine(run), "",
                _table(["layer pair", "tested pairs", "normal rule: rate / nominal", "edges",
                        "control rule: z (draws)", "rate / nominal [range]", "edges"], rows, "lrrrrrr"),
                ""]
    return "\n".join(out)


def _analysis(data: dict[str, Any]) -> str:
    found = data.get("findings", {})
    supported = ", ".join(k for k, v in found.items() if v) or "none"
    rows = [["edges (`compute_run`)", _num(data["fc_seconds"])],
            ["analysis (`analyze_run`)", _num(data["analysis_seconds"])],
            ["ratio analysis / edges", f"**{data['ratio_analysis_to_fc']:.2f}** ({data.get('goal', '')})"]]
    return (f"Recording `{data.get('recording')}`, conditions: {data.get('conditions')}, "
            f"{data.get('max_neurons')} neurons per layer; findings supported: {supported}. "
            + _machine(data) + "\n\n" + _table(["step", "seconds"], rows, "lr"))


def _record(data: dict[str, Any]) -> str:
    rows = [[k, f"{v:.2f}"] for k, v in data["seconds"].items()]
    rows.append(["ratio record / bare inference", f"**{data['ratio record / bare']:.2f}x**"])
    rss = ", ".join(f"{_num(v, 4)} MiB with {k} images" for k, v in data.get("peak_rss_mib", {}).items())
    return (f"`{data['checkpoint']}`, {_num(data['n_images'])} images (split `{data.get('split')}`), "
            f"batch {data.get('batch_size')}, T = {data.get('T')}; peak RSS {rss}. " + _machine(data)
            + "\n\n" + _table(["step", "seconds"], rows, "lr"))


def _generic(data: Any) -> str:
    """Any other results file: its scalar fields, flattened."""
    rows: list[list[Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif not isinstance(value, list):
            rows.append([prefix, _num(value)])

    walk("", data)
    return _table(["field", "value"], rows)


BENCHMARKS: dict[str, Callable[[Any], str]] = {
    "ingest": _ingest, "bulk": _bulk, "queries": _queries, "fc": _fc, "false_edges": _false_edges,
    "analysis": _analysis, "record": _record,
}


def benchmark(name: str) -> str:
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"no benchmarks/results/{name}.json")
    data = json.loads(path.read_text())
    return BENCHMARKS.get(name, _generic)(data)


def benchmark_files(placed: set[str]) -> str:
    """A line per results file; the tables of those no marker asked for by name."""
    out, rest = [], []
    for path in sorted(RESULTS.glob("*.json")):
        out.append(f"- `benchmarks/results/{path.name}`: `python benchmarks/{path.stem}.py`")
        if path.stem not in placed:
            rest.append(path.stem)
    for name in rest:
        out += ["", f"### `{name}`", "", benchmark(name)]
    return "\n".join(out)


# ----------------------------------------------------------------------------- includes

def include(spec: str) -> str:
    """The section ``## HEADING`` of a repository file, without its heading line."""
    rel, _, heading = spec.partition("#")
    text = (ROOT / rel).read_text()
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.M)
    if not match:
        raise ValueError(f"{rel}: no heading {heading!r}")
    level = len(match[1])
    rest = text[match.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return (rest[: end.start()] if end else rest).strip()


# ----------------------------------------------------------------------------- the hook

def on_config(config: Any) -> Any:
    """Document this tree's fcgraph, whatever is installed (MkDocs restores ``sys.path`` after
    loading a hook, so the tree goes first here, before any page imports fcgraph)."""
    if str(ROOT) in sys.path:
        sys.path.remove(str(ROOT))
    sys.path.insert(0, str(ROOT))
    loaded = sys.modules.get("fcgraph")
    if loaded is not None and Path(loaded.__file__ or "").resolve().parent != ROOT / "fcgraph":
        raise RuntimeError(f"fcgraph already imported from {loaded.__file__}, not from {ROOT}")
    return config


def _generate(kind: str, what: str, placed: set[str]) -> str:
    if kind == "include":
        return include(what)
    if what == "cli":
        return cli_reference()
    if what == "queries":
        return query_reference()
    if what == "findings":
        from fcgraph.analysis.findings import criteria_markdown

        return criteria_markdown()
    if what.startswith("benchmark "):
        return benchmark(what.split(" ", 1)[1].strip())
    if what == "benchmark-files":
        return benchmark_files(placed)
    raise ValueError(f"unknown marker 'generated: {what}'")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace each marker of the page with its generated text."""
    placed = {m[2].split(" ", 1)[1].strip() for m in MARKER.finditer(markdown)
              if m[1] == "generated" and m[2].startswith("benchmark ")}

    def replace(match: re.Match[str]) -> str:
        try:
            return _generate(match[1], match[2].strip(), placed)
        except Exception as exc:  # a broken marker must fail the build, naming the page
            raise RuntimeError(f"{page.file.src_path}: {match[0]}: {exc}") from exc

    return MARKER.sub(replace, markdown)
