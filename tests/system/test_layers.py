"""Imports flow one way: every import of fcgraph's own modules points down the layer order, no
two modules import each other, and reading a recording (and ``fcgraph fc`` on it) needs
neither torch nor spikingjelly."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import fcgraph
from fcgraph.analysis.synthetic import write_recording

PACKAGE = Path(fcgraph.__file__).parent

#: Bottom to top. A module may import from its own layer or one below it, never above.
LAYERS = [
    {"errors", "faults", "io", "names", "paths", "contract", "run_folder", "mirror", "parts", "spikes",
     "validate", "datasets", "tool_errors", "synthetic", "execution", "__init__"},
    {"models"},
    {"record"},
    {"fc"},
    {"analysis"},
    {"graph"},
    {"client"},
    {"viz"},
    {"db"},
    {"demo"},
    {"cli"},
    {"__main__"},
]
LEVEL = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("fcgraph", *path.relative_to(PACKAGE).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """fcgraph modules that ``name`` imports anywhere in its body (function-level too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text())
    if name == "fcgraph":  # the root's lazy re-exports (``fcgraph.Client``): the top, not the base
        tree.body = [n for n in tree.body
                     if not (isinstance(n, ast.FunctionDef) and n.name == "__getattr__")]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in mods else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in mods and m != name}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_layer():
    units = {_unit(m) for m in _modules()}
    assert units <= set(LEVEL), f"modules without a layer: {sorted(units - set(LEVEL))}"


def test_imports_point_down_the_layers():
    mods = _modules()
    upward = [f"{a} -> {b}" for a, path in mods.items() for b in _imports(a, path, mods)
              if LEVEL[_unit(b)] > LEVEL[_unit(a)]]
    assert not upward, "imports that run back up a layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    mods = _modules()
    graph = {a: _imports(a, path, mods) for a, path in mods.items()}
    cycles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [node, nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert not cycles, "modules that import each other:\n" + "\n".join(cycles)


BLOCK_TORCH = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision', 'spikingjelly'):
            raise ImportError(name + ' is blocked in this test')
sys.meta_path.insert(0, _Block())
"""


def test_reading_a_recording_and_fc_need_no_torch(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_TORCH)
    rng = np.random.default_rng(0)
    T, n_images = 4, 60
    spikes = {"clean": {"a": rng.random((24, T * n_images)) < 0.2,
                        "b": rng.random((16, T * n_images)) < 0.2}}
    rec = tmp_path / "rec"
    write_recording(rec, "notorch", [("a", (24,)), ("b", (16,))], T,
                    rng.integers(0, 3, n_images), spikes)
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    probe = subprocess.run(
        [sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "blocked" in probe.stderr  # the block is in force
    read = subprocess.run(
        [sys.executable, "-c",
         "import sys, fcgraph.record as r; rec = r.open_recording(sys.argv[1]); "
         "print(rec.spikes('clean', 'a').shape)", str(rec)],
        env=env, capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == f"(24, {T * n_images})"
    fc = subprocess.run(
        [sys.executable, "-m", "fcgraph", "fc", str(rec), "--no-progress"],
        env=env, capture_output=True, text=True)
    assert fc.returncode == 0, fc.stdout + fc.stderr
    assert "torch" not in fc.stderr
    assert (rec / "fc" / "edges" / "clean.parquet").is_file()
    assert "a -> b" in fc.stdout  # the layer pair was computed


def test_import_fcgraph_is_light_and_exports_the_api():
    """``import fcgraph`` loads no driver, pandas or torch; its API names load on first use."""
    code = ("import sys, fcgraph; heavy = [m for m in ('neo4j', 'pandas', 'torch') if m in sys.modules]; "
            "print(heavy); from fcgraph import Client, NeuronCriteria; "
            "import fcgraph.client as c; print(Client is c.Client, NeuronCriteria is c.NeuronCriteria)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "True True"]
    assert set(fcgraph.__all__) >= {"Client", "NeuronCriteria", "FcgraphError", "__version__"}
