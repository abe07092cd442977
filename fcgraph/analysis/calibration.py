"""The false-edge rate of each clean layer pair, measured whether or not fc measured it.

Finding 1 compares the clean edge rate with the rate at which fc's rule finds edges between
independent neurons. fc measures it with ``--calibrate`` (the rule as applied, its threshold
included, rerun on control draw 0: post images reordered); when it did not, the analysis runs
the same measurement itself, so the rate is always the measured one, never only the nominal
tail of the threshold.
"""

from __future__ import annotations

from typing import Any

from fcgraph.analysis.image_subsets import fc_params, fc_rule
from fcgraph.fc.calibration import calibrate
from fcgraph.fc.stats import normal_upper_tail


def false_edge_rate(rec: Any, pre: str, post: str) -> dict[str, Any]:
    """The clean layer pair's false-edge rate: ``false_edge_rate`` (None when it cannot be
    measured), ``nominal_rate``, ``tested``, ``false_edges`` and ``source`` ("fc --calibrate",
    "analyze (control draw 0)" or why it was not measured). ``rec``: an open recording."""
    row = rec.manifest.fc_pair("clean", pre, post)
    cal = row.get("calibration") or {}
    if cal.get("false_edge_rate") is not None:
        return {"false_edge_rate": cal["false_edge_rate"], "nominal_rate": cal.get("nominal_rate"),
                "tested": cal.get("tested"), "false_edges": cal.get("false_edges"),
                "source": "fc --calibrate"}
    stored = rec.manifest.fc.get("parameters", {})
    if stored.get("fdr") is not None or stored.get("candidates") == "receptive-field":
        return {"false_edge_rate": None, "nominal_rate": None, "tested": None,
                "false_edges": None, "source": "not measured: FDR or receptive-field candidates "
                                               "(run fcgraph fc --calibrate)"}
    params = fc_params(rec)
    rule = fc_rule(rec, "clean", pre, post)
    rule.pop("top_k", None)  # the rate is counted before any top-k cut
    z = rule.pop("z")
    rule = {k: v for k, v in rule.items() if k not in ("T", "seed")}
    nominal = float(normal_upper_tail(params.z))
    got = calibrate(rec.packed("clean", pre), rec.packed("clean", post), T=rec.T,
                    seed=params.seed, z=z, nominal_rate=nominal, **rule)
    return {"false_edge_rate": float(got["false_edge_rate"]), "nominal_rate": nominal,
            "tested": int(got["tested"]), "false_edges": int(got["false_edges"]),
            "source": "analyze (control draw 0)"}
