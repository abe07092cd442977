"""Recording: spikes of every spiking layer of a trained model, per condition, bit-packed on disk.

``record(checkpoint, out, conditions, n_images, ...)`` writes a recording folder (the run
folder of :mod:`fcgraph.contract`; files in :mod:`fcgraph.record.layout`, conditions in
:mod:`fcgraph.record.conditions`); ``open(path)`` reads it back::

    rec = fcgraph.record.open("runs/digits")
    rec.layers                       # [LayerInfo(name, order, shape, feeds_from), ...]
    rec.conditions, rec.T, rec.n_images, rec.labels
    rec.spikes("clean", "sn1")       # bool (8192, T * n_images)
    rec.packed("clean", "sn1")       # fcgraph.fc.spikes.SpikeMatrix, memory-mapped
"""

from fcgraph.record.conditions import Condition, parse_all
from fcgraph.record.conditions import parse as parse_condition
from fcgraph.record.reader import Recording, open_recording
from fcgraph.record.reader import open_recording as open
from fcgraph.record.recorder import record

__all__ = ["Condition", "Recording", "open", "open_recording", "parse_all", "parse_condition", "record"]
