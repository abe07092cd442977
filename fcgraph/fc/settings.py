"""fc's settings that change results: one rule object, the home of their defaults and checks.

:class:`FcParams` is what ``fcgraph fc`` takes (its command-line options are generated from the
fields below: name, default and help), what :func:`fcgraph.fc.run.compute_run` runs with, and
what the manifest records as ``fc.parameters`` (:meth:`FcParams.to_json`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fcgraph.errors import BadArgument, at_least, choice

# fc's name lists: one home each, read by the checks below and, through the fields' ``choices``,
# by the command line's choices
MEASURES = ("sttc", "pearson", "cofire")
THRESHOLDS = ("control", "normal")
#: exact moments over every whole-image (or bin) shift, sampled shifts, or every whole-trial
#: shift of a recording of repeated trials (the shift predictor)
NULLS = ("exact", "shift", "trial")
SHIFT_UNITS = ("T", "1")
PAIRS = ("consecutive", "feeders")
CANDIDATES = ("all", "receptive-field")


def _setting(default: Any, help: str, **cli: Any) -> Any:
    """A field with its command-line help (and Typer option keywords such as ``min``, or
    ``choices``: the tuple of names the option accepts)."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True)
class FcParams:
    """The settings that change results (stored in the manifest as ``fc.parameters``).

    ``shift_unit``: "T" (whole images) or "1" (any bin offset); it also picks the exact null's
    shift set (all whole-image shifts, or all bin shifts). ``n_shifts`` and ``min_shift`` apply
    to ``null="shift"`` only (None for the exact null). ``z`` sets the nominal false-edge rate,
    its one-sided normal tail (0.00135 at z = 3); ``threshold``: "control" (the default) makes
    each layer pair's z threshold the one at which its image-reordered control finds that rate
    (:mod:`fcgraph.fc.threshold`), "normal" uses z itself. Neither applies with ``fdr``.
    ``control_draws``: control draws pooled per layer pair (0: as many as needed to test
    2e7 pairs, 1 to 16).
    """

    measure: str = _setting("sttc", "Edge value: sttc (dt = 0), pearson or cofire.",
                            choices=MEASURES)
    null: str = _setting(
        "exact", "exact: exact moments over ALL whole-image (--shift-unit T) or bin "
                 "(--shift-unit 1) shifts; shift: --n-shifts sampled circular shifts of the "
                 "post layer; trial: every whole-trial shift of a recording of repeated trials "
                 "(fcgraph record --trials), so an edge means firing together beyond what the "
                 "image explains.", choices=NULLS)
    n_shifts: int | None = _setting(100, "Shifts of the shift null.", min=2)
    min_shift: int | None = _setting(40, "Smallest shift in bins (shift null).", min=1)
    shift_unit: str = _setting(
        "T", "T: shifts by whole images (keeps the within-image phase); 1: any bin offset.",
        choices=SHIFT_UNITS)
    min_spikes: int = _setting(10, "Neurons with fewer spikes are not tested.", min=0)
    z: float = _setting(3.0, "Nominal false-edge rate as a z: its one-sided normal tail "
                             "(3 -> 0.00135).")
    threshold: str = _setting(
        "control", "control: per layer pair, the z threshold at which the image-reordered "
                   "control's false-edge rate is the nominal one (never below --z; 2-3x the "
                   "time); normal: z >= --z (the normal tail; 2-5x too many false edges with "
                   "few images).", choices=THRESHOLDS)
    control_draws: int = _setting(
        0, "Control draws (image reorderings) pooled to set each layer pair's control "
           "threshold; 0: as many as needed to test 2e7 pairs, 1 to 16.", min=0)
    fdr: float | None = _setting(
        None, "Benjamini-Hochberg level Q per layer pair (replaces --z and --threshold).")
    top_k: int | None = _setting(None, "Keep each post neuron's K strongest in-edges (by z).",
                                 min=1)
    calibrate: bool = _setting(
        False, "Also measure the rule's false-edge rate on an image-reordered negative control "
               "(another draw than those --threshold control sets it from).")
    pairs: str = _setting(
        "consecutive", "consecutive: each spiking layer and the next; feeders: also every "
                       "declared feeder (residual inputs).", choices=PAIRS)
    candidates: str = _setting(
        "all", "all pairs, or receptive-field: for conv layers only pre neurons under the post "
               "neuron's 3x3 kernel (stride = ratio of the spatial sizes).",
        choices=CANDIDATES)
    seed: int = _setting(0, "Seed of the shift draw and of the controls' image orders.")
    dense: bool = _setting(
        False, "Also write every pair's cofire, value, null mean, null SD and z as .npy "
               "matrices.")

    def __post_init__(self) -> None:
        choice(self.measure, MEASURES, "--measure", "measure")
        choice(self.null, NULLS, "--null", "null")
        choice(self.shift_unit, SHIFT_UNITS, "--shift-unit", "shift unit")
        if self.null == "shift":
            at_least(self.n_shifts, 2, "--n-shifts")
            at_least(self.min_shift, 1, "--min-shift")
        at_least(self.min_spikes, 0, "--min-spikes")
        if not isinstance(self.z, int | float) or not np.isfinite(self.z) or self.z <= 0:
            raise BadArgument("--z", f"z must be a positive number, got {self.z}")
        choice(self.threshold, THRESHOLDS, "--threshold", "threshold")
        at_least(self.control_draws, 0, "--control-draws")
        if self.fdr is not None and not (isinstance(self.fdr, int | float) and 0 < self.fdr < 1):
            raise BadArgument("--fdr", f"fdr must lie in (0, 1), got {self.fdr}")
        if self.top_k is not None:
            at_least(self.top_k, 1, "--top-k")
        choice(self.pairs, PAIRS, "--pairs", "pairs")
        choice(self.candidates, CANDIDATES, "--candidates", "candidates")

    @classmethod
    def create(cls, **kwargs: Any) -> FcParams:
        """Like the constructor, but n_shifts / min_shift are dropped for the exact and trial
        nulls."""
        if kwargs.get("null", cls.null) in ("exact", "trial"):
            kwargs["n_shifts"] = kwargs["min_shift"] = None
        if "shift_unit" in kwargs:
            kwargs["shift_unit"] = str(kwargs["shift_unit"])
        return cls(**kwargs)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def rule(self, T: int, trials: int = 1) -> dict[str, Any]:
        """Keyword arguments of :func:`~fcgraph.fc.edges.significant_edges` for these settings,
        on a recording of ``T`` steps per image and ``trials`` repeats of its images."""
        rule: dict[str, Any] = {"T": T, "measure": self.measure, "null": self.null, "z": self.z,
                                "min_spikes": self.min_spikes, "fdr": self.fdr,
                                "shift_unit": T if self.shift_unit == "T" else 1, "seed": self.seed}
        if self.null == "shift":
            rule.update(n_shifts=self.n_shifts, min_shift=self.min_shift)
        if self.null == "trial":
            rule["trials"] = trials
        return rule

