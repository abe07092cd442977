"""Recording: spikes of every spiking layer of a trained model, per condition, bit-packed on disk.

``record(checkpoint, out, conditions, n_images, ...)`` writes a recording folder (the run
folder of :mod:`fcgraph.contract`; files in :mod:`fcgraph.record.layout`, conditions in
:mod:`fcgraph.record.conditions`); ``open_recording(path)`` reads it back::

    rec = fcgraph.record.open_recording("runs/digits")
    rec.layers                       # [LayerInfo(name, order, shape, feeds_from), ...]
    rec.conditions, rec.T, rec.n_images, rec.labels
    rec.spikes("clean", "sn1")       # bool (8192, T * n_images)
    rec.packed("clean", "sn1")       # fcgraph.spikes.SpikeMatrix, memory-mapped

:mod:`fcgraph.record.interop` exports the spikes to Neo (Elephant) and NWB (SpikeInterface).
Reading needs neither torch nor spikingjelly: :mod:`fcgraph.record.reader` is imported here,
the recorder and the conditions (which run the model) only when first named.
"""

from typing import Any

from fcgraph.record.reader import Recording, open_recording

_LAZY = {"record": "fcgraph.record.recorder", "Condition": "fcgraph.record.conditions",
         "parse_all": "fcgraph.record.conditions"}

__all__ = ["Condition", "Recording", "open_recording", "parse_all", "record"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fcgraph.record' has no attribute {name!r}")
