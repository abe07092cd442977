#!/usr/bin/env bash
# The main job on a fresh machine: set up (scripts/setup.sh), then `fcgraph demo`, which starts
# the local Neo4j if none is configured, and leaves it running for browsing (`fcgraph db stop`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/fcgraph demo "$@"
