"""The fixed name lists that flags choose from: one home each, read both by the code that checks
a value and by the command line's choices (without importing torch or the stage behind them).

fc's own lists (measures, nulls, shift units, thresholds, layer pairs, candidates) live with its
settings, in :mod:`fcgraph.fc.settings`.
"""

from __future__ import annotations

#: Architectures ``fcgraph train --model`` builds (:data:`fcgraph.models.ARCHITECTURES` maps
#: each to its builder).
ARCHITECTURES = ("sew-small", "sew-resnet18", "spiking-resnet18", "tiny")

#: Spiking neuron models: parametric LIF, LIF, IF (:data:`fcgraph.models.NEURON_KINDS`).
NEURON_TYPES = ("plif", "lif", "if")

#: Datasets :func:`fcgraph.datasets.load_dataset` loads; ``imagefolder:PATH`` is a folder of
#: class subfolders.
DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "imagefolder:PATH")

#: Splits of a dataset that can be recorded.
SPLITS = ("train", "test", "all")
