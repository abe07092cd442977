"""A test hook for the fault-injection suite (``tests/system/test_faults.py``): a deterministic SIGKILL.

``FCGRAPH_FAULT_AT=<point>[:<n>]`` in the environment makes the process kill itself with SIGKILL
the ``n``-th time (default the first) it reaches ``checkpoint("<point>")``. The stages call
:func:`checkpoint` at their commit points (a part written but not yet recorded, between layer
pairs, between ingest batches, ...), so a test can kill a real ``fcgraph`` command exactly
there and check that rerunning the same command ends with the results of an uninterrupted run.
Unset (always, outside tests), a checkpoint costs one environment lookup.

Points: ``record.batch`` (a batch counted, not yet written; in-process or in a chunk on a Dask
worker), ``record.flush`` (written, its progress not yet saved), ``record.finish`` (one more
file of a condition renamed); ``fc.pair`` (a layer pair's table written, its summary not),
``fc.unit`` (a unit of post tiles' table written, its result not yet returned,
:mod:`fcgraph.fc.split`), ``fc.assembled`` (a condition's edge table done, its part tables not
yet removed); ``analyze.part`` (a part saved); ``ingest.neurons`` (neuron nodes written, not
yet marked done), ``ingest.batch`` (an edge batch committed), ``ingest.switched`` (a
condition's new edges made live, the load's marks not yet removed); and ``write/<file name>``
(a file written through :func:`fcgraph.io.atomic_write`: its temp file complete, not yet
renamed).
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

ENV = "FCGRAPH_FAULT_AT"
_hits: Counter[str] = Counter()
_lock = threading.Lock()


def checkpoint(name: str) -> None:
    """SIGKILL this process if ``FCGRAPH_FAULT_AT`` names this point and hit (module doc)."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, _, nth = spec.rpartition(":") if spec.rpartition(":")[2].isdigit() else (spec, "", "1")
    if point != name:
        return
    with _lock:
        _hits[name] += 1
        if _hits[name] == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)
