"""The analysis' parameters: :class:`AnalysisConfig` (every field changes results)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fcgraph.errors import at_least, number_in


@dataclass(frozen=True)
class AnalysisConfig:
    """Parameters of an analysis (all of them change results, so all go into the part keys).

    ``max_neurons``: post neurons analysed per layer (seeded sample; None = all eligible);
    ``min_group`` / ``min_spikes``: eligibility; ``percentile``: event threshold; ``n_boot``:
    bootstrap resamples of each clean fit; ``folds`` / ``n_shuffle``: CV folds (decoders, curve
    models) and label shuffles; ``alpha``: level of the in-sample F test ("threshold-linear
    beats linear") and of the one-sided lower bound of a ReLU-like curve's held-out gain over
    the line (:mod:`fcgraph.analysis.curve_models`); ``conditions``: analyse only these (clean
    is always included); ``n_blocks``: image groups of the edge statistics' jackknife
    (:mod:`fcgraph.analysis.blocks`).
    """

    max_neurons: int | None = 128
    min_group: int = 3
    min_spikes: int = 10
    percentile: float = 95.0
    n_boot: int = 200
    folds: int = 5
    n_shuffle: int = 1
    alpha: float = 0.01
    seed: int = 0
    conditions: tuple[str, ...] | None = None
    n_blocks: int = 10
    chunk: int = 1024

    def __post_init__(self) -> None:
        if self.max_neurons is not None:
            at_least(self.max_neurons, 1, "--max-neurons")
        at_least(self.min_group, 1, "--min-group")
        at_least(self.min_spikes, 0, "--min-spikes")
        number_in(self.percentile, "--percentile", 0, 100)
        at_least(self.n_boot, 0, "--n-boot")
        at_least(self.folds, 2, "--folds")
        at_least(self.n_shuffle, 0, "--n-shuffle")
        number_in(self.alpha, "--alpha", 0, 1)
        at_least(self.n_blocks, 2, "n_blocks")
        at_least(self.chunk, 1, "chunk")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["conditions"] = list(self.conditions) if self.conditions else None
        d.pop("chunk")
        return d
