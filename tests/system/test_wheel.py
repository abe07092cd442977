"""The package as a user installs it: a wheel, not this editable checkout.

The wheel is built from the repository and installed into a fresh virtual environment whose
only other entry is the test environment's site-packages (for the dependencies, without its
editable finder), then its `fcgraph` lists the queries, applies the schema and loads a run
from a folder outside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from fcgraph.synthetic import make_synthetic_run

pytestmark = [pytest.mark.slow, pytest.mark.neo4j]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv with fcgraph installed from a freshly built wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # the files a fresh clone has: no build/ left over from earlier builds
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"),
                            str(source)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp / "dist").glob("fcgraph-*.whl"))
    env_dir = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    site = Path(subprocess.run([str(env_dir / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the dependencies from the test environment: a plain path entry, so that its .pth files
    # (the editable install's finder among them) are not run
    (site / "test-env-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"),
                           "install", "--no-deps", "-q", str(wheel)], capture_output=True, text=True)
    if done.returncode != 0:  # a pip too old for --python: install into the site folder
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                               str(site), str(wheel)], capture_output=True, text=True)
        script = env_dir / "bin" / "fcgraph"
        script.write_text(f"#!{env_dir / 'bin' / 'python'}\nfrom fcgraph.cli import app\napp()\n")
        script.chmod(0o755)
    assert done.returncode == 0, done.stderr[-2000:]
    return env_dir / "bin"


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FCGRAPH_CYPHER_DIR")}
    return subprocess.run([str(bin_dir / "fcgraph"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_installed_package_is_not_the_checkout(installed, tmp_path):
    where = subprocess.run([str(installed / "python"), "-c",
                            "import fcgraph, fcgraph.paths as p; print(fcgraph.__file__); "
                            "print(p.cypher_dir())"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    assert all(str(installed.parent) in line for line in where), where
    assert not any(line.startswith(str(REPO)) for line in where), where
    from fcgraph import __version__

    shown = run(installed, "--version", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.startswith(f"fcgraph {__version__} "), shown


def test_the_view_ships_its_library(installed, tmp_path):
    """The offline view's vendored graph library and its licence are in the wheel."""
    shown = subprocess.run([str(installed / "python"), "-c",
                            "from fcgraph.viz.view import LIBRARY, Subgraph, render_html; "
                            "page = render_html(Subgraph('r', 't')); "
                            "print((LIBRARY.parent / 'LICENSE').is_file(), "
                            "LIBRARY.read_text(encoding='utf-8') in page, LIBRARY)"],
                           cwd=tmp_path, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr[-2000:]
    licence, inlined, path = shown.stdout.split()
    assert licence == inlined == "True" and path.startswith(str(installed.parent)), shown.stdout


def test_queries_schema_and_ingest_from_the_wheel(installed, tmp_path, neo4j_conn, driver, run_id):
    listed = run(installed, "query", "--list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    shipped = sorted(p.stem for p in (REPO / "cypher").glob("*.cypher") if p.stem != "schema")
    assert all(name in listed.stdout for name in shipped)
    assert run(installed, "db", "init", cwd=tmp_path).returncode == 0
    root = tmp_path / "run"
    make_synthetic_run(root, run_id, layers=(("a", (2, 4, 4)), ("b", (12,))), conditions=("clean",),
                       fan_in=3)
    try:
        loaded = run(installed, "ingest", str(root), "--no-progress", cwd=tmp_path)
        assert loaded.returncode == 0, loaded.stderr
        edges = driver.execute_query("MATCH (:Neuron {run_id: $r})-[e:FC]->() RETURN count(e) AS n",
                                     r=run_id).records[0]["n"]
        assert edges == 12 * 3
        summary = run(installed, "query", "layer_summary", "-p", f"run_id={run_id}", "--format", "json",
                      cwd=tmp_path)
        assert summary.returncode == 0, summary.stderr
    finally:
        driver.execute_query("MATCH (n {run_id: $r}) DETACH DELETE n", r=run_id)


def test_export_spikes_from_the_wheel(installed, tmp_path):
    """The interop module ships: the installed `fcgraph export-spikes` writes an NWB file."""
    pytest.importorskip("pynwb")
    import numpy as np

    from fcgraph.analysis.synthetic import write_recording

    spikes = np.zeros((3, 8), dtype=bool)
    spikes[1, [0, 5]] = True
    write_recording(tmp_path / "rec", "w", [("a", (3,))], 4, np.array([1, 2]), {"clean": {"a": spikes}})
    done = run(installed, "export-spikes", "rec", "-f", "nwb", "-o", "s.nwb", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "exported 3 neurons (2 spikes) of condition clean as nwb" in " ".join(done.stdout.split())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(installed / "python"), "-c",
                            "import fcgraph.record.interop as m; print(m.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(installed.parent)), where
