"""One self-contained HTML report of an analysis: figures embedded (base64 PNG), the findings
table, per-layer numbers, the parameters and the provenance. No external URLs."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from fcgraph.analysis.findings import CONTRASTS, condition_role
from fcgraph.analysis.findings.criteria import PAPER, TERMS
from fcgraph.analysis.findings.f5_learning import TRAJECTORY_FINDINGS, reported_trajectory
from fcgraph.analysis.run import load_analysis
from fcgraph.io import atomic_write_text
from fcgraph.mirror import local_run_folder
from fcgraph.run_folder import RunFolder

_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;
padding:3px 6px;vertical-align:top}th{background:#f3f3f3}.yes{color:#070;font-weight:bold}
.no{color:#a00;font-weight:bold}.na{color:#777}img{max-width:100%}pre{background:#f7f7f7;
padding:0.5em;overflow-x:auto;font-size:0.8em}"""


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, _Raw) else _fmt(c)}</td>"
                                    for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class _Raw(str):
    """Already-escaped HTML."""


def _verdict(s: bool | None) -> _Raw:
    if s is None:
        return _Raw('<span class="na">not tested</span>')
    return _Raw('<span class="yes">yes</span>' if s else '<span class="no">no</span>')


def _controls_section(analysis: dict[str, Any]) -> str:
    """The trained network against each control: one row per (finding, control)."""
    rows = []
    for f in analysis["findings"]:
        d = f["details"]
        per = d.get("contrasts") or {c: p["decoding"] for c, p in d.get("per_control", {}).items()}
        for control, c in per.items():
            extra = c.get("layers_exceeding")
            rows.append([f["id"], control, CONTRASTS.get(f["id"], ""), c.get("value"),
                         _Raw(f"[{_fmt(c.get('lo'))}, {_fmt(c.get('hi'))}]"),
                         _verdict(bool(c.get("exceeds"))),
                         "" if extra is None else ", ".join(extra) or "none"])
    floor = next((f["details"] for f in analysis["findings"] if f["id"] == "4"), {})
    roles = {name: condition_role(name) for name in analysis.get("networks", {})}
    text = ("<h2>Trained network against its controls</h2><p>Control networks (analysed with "
            "their own 1FC groups): " + (", ".join(html.escape(n) for n, r in roles.items()
                                                   if r == "control") or "none recorded") +
            ". Reliability floor: " +
            (", ".join(html.escape(n) for n in floor.get("floor_conditions", [])) or "none") +
            ".</p>")
    reps = [[f["id"], name, r["value"], _Raw(f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"),
             _verdict(r["supported"]), r.get("reason", "")]
            for f in analysis["findings"]
            for name, r in f["details"].get("replicates", {}).items()]
    text += _table(["#", "control", "contrast (trained - control)", "value", "95% CI",
                    "exceeds", "layers exceeding (Holm)"], rows)
    text += _training_section(analysis)
    if reps:
        text += ("<p>Replicates (other trained networks on the same images; a finding must hold "
                 "in each):</p>" + _table(["#", "replicate", "value", "95% CI", "supported",
                                           "note"], reps))
    return text


def _training_section(analysis: dict[str, Any]) -> str:
    """Finding 5's training trajectory (untrained, the kept epochs, the trained network), when
    the run recorded more than the trained network; reported, not gating."""
    training = reported_trajectory(analysis["findings"])
    if training is None:
        return ""
    rows = training["networks"]

    def contrast(c: dict[str, Any] | None) -> Any:
        return "" if not c else _Raw(f"{_fmt(c.get('value'))} [{_fmt(c.get('lo'))}, "
                                     f"{_fmt(c.get('hi'))}]")

    table = _table(["epoch", "network", "accuracy", "average decoding",
                    *[f"{fid}: trained - network" for fid in TRAJECTORY_FINDINGS]],
                   [[r["epoch"], r["network"], r.get("accuracy"), r.get("average_decoding"),
                     *[contrast(r["contrasts"].get(fid)) for fid in TRAJECTORY_FINDINGS]]
                    for r in rows])
    return ("<p>Training trajectory (finding 5; checkpoints are reported, they gate no verdict): "
            f"Spearman rho of average decoding against epoch {_fmt(training.get('spearman_rho'))}"
            f".</p>{table}")


def _about() -> str:
    """What the report tests and the words it uses (from :mod:`~fcgraph.analysis.findings.criteria`)."""
    terms = "".join(f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>"
                    for term, text in TERMS.items())
    return (f"<p>The five findings of {html.escape(PAPER)}, each tested on this run against "
            f"fixed criteria and against control networks.</p><dl>{terms}</dl>")


def render_report(analysis: dict[str, Any], folder: Path) -> str:
    """The report's HTML text; figures are read from ``folder`` (the analysis folder)."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>fcgraph analysis "
             f"{html.escape(analysis['run_id'])}</title><style>{_CSS}</style></head><body>",
             f"<h1>Ensemble analysis of run {html.escape(analysis['run_id'])}</h1>",
             f"<p>{analysis['n_images']} images, T = {analysis['T']}, "
             f"{analysis['n_classes']} classes; clean accuracy {_fmt(analysis.get('clean_accuracy'))}; "
             f"created {html.escape(analysis['created'])}.</p>", _about(), "<h2>Findings</h2>",
             _table(["#", "claim", "statistic", "value", "95% CI", "criterion (fixed in advance)",
                     "supported", "note"],
                    [[f["id"], f["claim"], f["statistic"], f["value"],
                      _Raw(f"[{_fmt(f['ci_low'])}, {_fmt(f['ci_high'])}]"), f["criterion"],
                      _verdict(f["supported"]), f.get("reason", "")]
                     for f in analysis["findings"]])]
    parts.append(_controls_section(analysis))
    parts.append("<h2>Layers (clean)</h2>")
    parts.append(_table(
        ["layer pair", "neurons", "edges", "with group", "median size", "fitted",
         "median gain", "median threshold", "R² ReLU / linear", "rho(gain,size) [CI]",
         "event fraction", "decoding event / average / shuffle"],
        [[f"{la['pre_layer']} → {la['post_layer']}", la["n_neurons"], la["clean_edges"],
          la["group_sizes"]["fraction_with_group"], la["group_sizes"]["median"],
          la["io"]["n_fitted"], la["io"]["median_gain"], la["io"]["median_threshold"],
          _Raw(f"{_fmt(la['io']['median_r2'])} / {_fmt(la['io']['median_r2_linear'])}"),
          _Raw(f"{_fmt(la['io']['gain_vs_size']['rho'])} [{_fmt(la['io']['gain_vs_size']['rho_lo'])}, "
               f"{_fmt(la['io']['gain_vs_size']['rho_hi'])}]"),
          la["events"]["median_event_fraction"],
          _Raw(f"{_fmt(la['decoding']['event'].get('accuracy'))} / "
               f"{_fmt(la['decoding']['average'].get('accuracy'))} / "
               f"{_fmt(la['decoding']['event'].get('shuffle_accuracy'))}")]
         for la in analysis["layers"]]))
    if analysis.get("conditions"):
        parts.append("<h2>Perturbations (vs clean)</h2>")
        rows = []
        for name, cond in analysis["conditions"].items():
            for la in cond["layers"]:
                e = la.get("edges", {})
                rows.append([name, cond.get("accuracy"), f"{la['pre_layer']} → {la['post_layer']}",
                             e.get("lost_fraction"), e.get("gained"), e.get("jaccard"),
                             e.get("jaccard_chance"), e.get("neuron_jaccard"),
                             e.get("neuron_survival"), la["io"]["median_gain"],
                             la["io"]["median_threshold"],
                             la["decoding"]["average"].get("accuracy")])
        parts.append(_table(["condition", "accuracy", "layer pair", "lost fraction", "gained",
                             "Jaccard", "chance", "neuron Jaccard", "survival", "median gain",
                             "median threshold", "decoding (average)"], rows))
    parts.append("<h2>Figures</h2>")
    for rel in analysis.get("figures", []):
        if rel.endswith(".png") and (folder / rel).exists():
            data = base64.b64encode((folder / rel).read_bytes()).decode("ascii")
            parts.append(f"<h3>{html.escape(Path(rel).stem)}</h3>"
                         f"<img alt='{html.escape(rel)}' src='data:image/png;base64,{data}'>")
    parts.append("<h2>Parameters</h2><pre>" + html.escape(json.dumps(analysis["parameters"],
                                                                      indent=1)) + "</pre>")
    parts.append("<h2>Provenance</h2><pre>" + html.escape(json.dumps(analysis["provenance"],
                                                                      indent=1)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(recording: Path | str) -> Path:
    """Write ``RECORDING/analysis/report.html`` from its ``analysis.json``; returns the path (for
    a recording at a URL, in its local mirror; the store has it too)."""
    with local_run_folder(recording) as root:
        analysis = load_analysis(root)
        run = RunFolder(root)
        atomic_write_text(run.report, render_report(analysis, run.analysis))
        return run.report
