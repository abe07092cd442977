#!/usr/bin/env bash
# Set up a fresh machine for fcgraph: a virtual environment in .venv with fcgraph installed
# (editable, with the dev extra), and the Neo4j jars fetched from Maven Central.
# Idempotent: rerunning it only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.fcgraph-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev,fast]"
  touch "$stamp"
fi
.venv/bin/fcgraph db install ${FCGRAPH_STATE_DIR:+--state-dir "$FCGRAPH_STATE_DIR"}
