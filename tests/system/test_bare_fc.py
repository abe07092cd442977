"""``pytest tests/fc`` on a bare environment: the NumPy core's tests pass where torch,
spikingjelly, the Neo4j driver and Playwright cannot be imported (a subprocess with
tests/helpers/bare first on PYTHONPATH, whose sitecustomize.py blocks them). What needs torch
(the tiny model's recording) or a GPU skips there; nothing fails, and nothing asks for Neo4j or
a browser."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BARE = ROOT / "tests" / "helpers" / "bare"

pytestmark = pytest.mark.slow

#: what a test under tests/fc may skip for in a bare environment
ALLOWED_SKIPS = ("torch", "GPU", "CUDA", "NVRTC", "g++")


def _bare_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "NEO4J_", "FCGRAPH_REQUIRE_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(BARE), str(ROOT)])
    return env


def test_fc_tests_pass_without_torch_neo4j_or_a_browser():
    env = _bare_env()
    probe = subprocess.run(
        [sys.executable, "-c",
         "import importlib\n"
         "for name in ('torch', 'spikingjelly', 'neo4j', 'playwright'):\n"
         "    try:\n"
         "        importlib.import_module(name)\n"
         "    except ImportError as exc:\n"
         "        print(name, 'blocked' in str(exc))\n"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert probe.stdout.split() == ["torch", "True", "spikingjelly", "True", "neo4j", "True",
                                    "playwright", "True"], probe.stdout + probe.stderr
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/fc", "-q", "-p", "no:cacheprovider", "-rs"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-5000:]
    summary = out.strip().splitlines()[-1]
    assert "failed" not in summary and "error" not in summary, summary
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 50, summary
    skips = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    odd = [line for line in skips if not any(word in line for word in ALLOWED_SKIPS)]
    assert not odd, "tests/fc skips for something beyond torch or a GPU:\n" + "\n".join(odd)
