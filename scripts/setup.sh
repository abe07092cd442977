#!/usr/bin/env bash
# Set up a fresh machine for fcgraph: a virtual environment in .venv with fcgraph installed
# (editable, with the dev, fast and docs extras), and the Neo4j jars fetched from Maven Central.
# Idempotent: rerunning it only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.fcgraph-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing fcgraph and its dependencies into .venv (a few minutes the first time)"
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install --upgrade pip && \
         .venv/bin/python -m pip install -e ".[dev,fast,docs]"; } > "$log" 2>&1; then
    tail -n 20 "$log"; echo "pip install failed; full log in $log" >&2; exit 1
  fi
  touch "$stamp"
fi
.venv/bin/fcgraph db install ${FCGRAPH_STATE_DIR:+--state-dir "$FCGRAPH_STATE_DIR"}
