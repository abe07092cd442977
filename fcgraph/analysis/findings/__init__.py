"""The five findings of the paper, each tested by a statistic, its controls and a criterion
fixed in advance.

A finding says something about a *trained* network, so each is tested twice: on the trained
network (the ``clean`` condition) by an absolute criterion, and against every **control
network** the run recorded -- the weight-permuted (``permute:*``) and the ``untrained`` networks,
each analysed with its *own* 1FC groups (its own edges), exactly as the trained one. A finding is
``supported`` (True) only when the trained network passes its criterion AND its effect exceeds
every control network's (the contrast's CI lower bound > 0); False when either fails; None (not
tested) when the run lacks what the test needs -- no control network, no perturbed condition, no
reliability floor -- with the reason. A "no" that a control confirms is a result.

With **replicates** (other independently trained networks on the same images, analysed the same
way), findings 1, 2, 3 and 5 must hold in each of them too.

Perturbations are measured against a **reliability floor**: conditions that re-measure the
network with negligible noise (``uniform`` or ``gaussian`` at level <= ``FLOOR_LEVEL``). Their
change from clean is what any re-measurement changes; a perturbation disrupts only by more.

Uncertainty: read-outs are compared image by image and resampled by image (an image's T bins
and all its layers together); layer-level estimates are pooled with their SEs; per-layer
contrasts carry Holm-adjusted p-values. The edge statistics (findings 1 and 4) get their CIs
from the image-block jackknife (:mod:`fcgraph.analysis.blocks`): fc's rule rerun without each of
G class-stratified groups of images, the same groups in every layer pair, condition and network,
each statistic pooled over layer pairs within each replicate. All CIs are 95%. Where a CI still
treats neurons or neuron pairs as independent (fits, and the edge numbers reported beside the
verdicts only) the details say so.

1. 1FC groups (significant pairwise correlation). Statistic: clean edge rate (edges / tested
   pairs) of the block sample of post neurons (every post neuron up to ``max_neurons`` per
   layer), pooled over layer pairs, over the false-edge rate measured on the image-reordered
   control (fc's ``--calibrate``, else measured by the analysis; pooled over layer pairs by
   tested pairs, never below the nominal rate; the false-edge rate is a measured constant, not
   resampled). Contrast: mean over layer pairs of log2(trained rate / control rate), each
   network on its own block sample, with the jackknife CI.
2. Class encoding in rare high-cofiring events. Events are defined per time step (see
   ``events.py``). Statistic: mean over layers and images of (event read-out correct -
   count-matched read-out correct): the neuron's event spikes against as many of its spikes
   drawn from all its spikes; the event read-out must also beat as many random bins. (Event
   against *all* spikes compares a subset with its superset; it is reported only.) Contrast:
   the same difference in the trained network minus in the control, per image.
3. ReLU-like input-output curve, gain scaling with ensemble size. Each analysed neuron's curve
   is fitted with its group and with a random group of the same size (pre neurons with enough
   spikes). Statistic: the gain law's exponent beta (least squares of log gain on log size per
   layer, pooled) minus the random groups' -- per-member gain falls with size for any group
   (k sums more neurons), so only the excess speaks to the claim, two-sided. Contrasts: the
   threshold-linear share and the beta excess, trained minus control (neurons as units).
4. Perturbations disrupt, most in early and intermediate layers. Per perturbation and layer pair:
   disruption = floor's mean neuron-group Jaccard with clean minus the perturbation's, over the
   block sample of post neurons, with the jackknife CI. Statistic: mean over perturbations of
   (early two thirds' disruption - last third's), formed within each jackknife replicate; it
   must also be positive on each half of the images, whose spread bounds its SE from below.
5. Shaped by learning, broken by weight permutation. Statistic: mean over control networks of
   (trained - control) average-activity decoding accuracy, per image; the network-level
   properties of findings 1-3 must differ too. Index-based group survival is reported only:
   matching neurons by index across two weight sets says nothing about learning. **Training
   checkpoints** (``epoch:E``, role "checkpoint": the network after epoch E, kept by ``fcgraph
   train --keep-epochs``) are analysed with their own groups like a control network but are
   reported, not gating: no verdict of findings 1-5 depends on them (a network a few epochs
   into training may already decode as well as the final one; that is no evidence against the
   claim). Findings 1-3 give their contrasts with each checkpoint in ``checkpoint_contrasts``;
   finding 5's ``details["training"]`` lists the networks in epoch order (``untrained`` as
   epoch 0, each ``epoch:E``, the trained one at its final epoch) with their average decoding,
   their contrasts with the trained network and the Spearman rho of decoding against epoch.
"""

from __future__ import annotations

from typing import Any

from fcgraph.analysis.findings.common import (
    CHECKPOINT_KINDS,
    FLOOR_KINDS,
    FLOOR_LEVEL,
    LAYER_ALPHA,
    LEARNING_KINDS,
    NO_CONTROL,
    NOISE_KINDS,
    condition_role,
    summary_frame,
)
from fcgraph.analysis.findings.criteria import (
    CLAIMS,
    CONTRASTS,
    CRITERIA,
    STATISTICS,
    criteria_markdown,
    terms_markdown,
)
from fcgraph.analysis.findings.f1_groups import edge_rate_contrast, finding_1
from fcgraph.analysis.findings.f2_events import (
    decoding_contrast,
    event_minus_average,
    event_minus_matched,
    finding_2,
    percentile_sweep,
)
from fcgraph.analysis.findings.f3_curves import finding_3, io_contrast, io_summary
from fcgraph.analysis.findings.f4_perturbations import dose_response, finding_4
from fcgraph.analysis.findings.f5_learning import finding_5

__all__ = ["CHECKPOINT_KINDS", "CLAIMS", "CONTRASTS", "CRITERIA", "FLOOR_KINDS", "FLOOR_LEVEL", "LAYER_ALPHA",
           "LEARNING_KINDS", "NOISE_KINDS", "NO_CONTROL", "STATISTICS", "condition_role",
           "criteria_markdown", "decoding_contrast", "dose_response", "edge_rate_contrast",
           "evaluate", "finding_1", "finding_2", "finding_3", "finding_4", "finding_5",
           "io_contrast", "io_summary", "percentile_sweep", "summary_frame", "terms_markdown",
           "event_minus_average", "event_minus_matched"]


def _first_four(analysis: dict[str, Any], manifest: Any) -> list[dict[str, Any]]:
    """Findings 1, 2, 3 and 5 of ``analysis`` (5 uses the contrasts of 1-3)."""
    alpha = float(analysis.get("parameters", {}).get("alpha", 0.01))
    first = [finding_1(analysis, manifest), finding_2(analysis), finding_3(analysis, alpha)]
    return [*first, finding_5(analysis, first)]


def _with_replicates(found: dict[str, Any], on_replicates: dict[str, dict[str, Any]]
                     ) -> dict[str, Any]:
    """A finding of the trained network, held to its replicates: a "yes" needs a "yes" in each
    replicate too (the same criterion and controls); their results and the spread of the
    statistic between the trained networks go into ``details``."""
    if not on_replicates:
        return found
    values = [r["value"] for r in on_replicates.values() if r["value"] is not None]
    found["details"]["replicates"] = {
        name: {k: r[k] for k in ("value", "ci_low", "ci_high", "supported", "reason")}
        for name, r in on_replicates.items()}
    found["details"]["seed_spread"] = (max(abs(found["value"] - v) for v in values)
                                       if values and found["value"] is not None else None)
    failing = sorted(n for n, r in on_replicates.items() if r["supported"] is not True)
    if found["supported"] is True and failing:
        found["supported"] = False
        found["reason"] = "does not hold in the replicate network " + ", ".join(failing)
    return found


def evaluate(analysis: dict[str, Any], manifest: Any) -> list[dict[str, Any]]:
    """The five findings (dicts: id, claim, statistic, value, ci_low, ci_high, criterion,
    supported, reason, details) of an assembled analysis; with ``replicates`` (other trained
    networks analysed like this one), findings 1-3 and 5 must hold in each of them too."""
    main = _first_four(analysis, manifest)
    reps = {name: _first_four({**analysis, "layers": rep["layers"]}, manifest)
            for name, rep in analysis.get("replicates", {}).items()}
    out = [_with_replicates(f, {name: r[i] for name, r in reps.items()})
           for i, f in enumerate(main)]
    return [*out[:3], finding_4(analysis), out[3]]
