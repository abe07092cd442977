"""Ensemble analyses of a recorded run: the five findings of the paper, tested on any run.

- :mod:`~fcgraph.analysis.groups`: 1FC groups (clean in-edges) and their sizes;
- :mod:`~fcgraph.analysis.io_curve`: aggregate cofiring k(t), response curves, threshold-linear
  fits with bootstrap CIs, gain vs group size;
- :mod:`~fcgraph.analysis.events`, :mod:`~fcgraph.analysis.decoding`: rare high-cofiring events,
  per-neuron mutual information and cross-validated class read-out;
- :mod:`~fcgraph.analysis.information`: bias-corrected mutual information (quadratic
  extrapolation or Panzeri-Treves) with a class-stratified image-bootstrap CI;
- :mod:`~fcgraph.analysis.perturbations`: edge-set change per condition with chance levels;
- :mod:`~fcgraph.analysis.findings`: the five claims, statistics and pre-registered criteria,
  one module per finding, tested against control networks, replicates and a reliability floor;
- :mod:`~fcgraph.analysis.contrasts`: pooled estimates, per-image contrasts, Holm;
- :mod:`~fcgraph.analysis.calibration`: each clean layer pair's measured false-edge rate;
- :mod:`~fcgraph.analysis.run`: :func:`analyze_run` (resumable) writing ``analysis/``;
- :mod:`~fcgraph.analysis.figures`, :mod:`~fcgraph.analysis.report`: figures and HTML report.
"""

from fcgraph.analysis.config import AnalysisConfig
from fcgraph.analysis.information import mutual_information
from fcgraph.analysis.run import analyze_run, load_analysis

__all__ = ["AnalysisConfig", "analyze_run", "load_analysis", "mutual_information"]
