#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: set up (scripts/setup.sh), start a dedicated Neo4j
# (state folder .fcgraph-test, Bolt 17687, HTTP 17474), run ruff, build the manual (strict), run
# pytest, stop Neo4j whatever happens.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k ingest -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
export FCGRAPH_STATE_DIR="$PWD/.fcgraph-test"
export FCGRAPH_TEST_BOLT_PORT=${FCGRAPH_TEST_BOLT_PORT:-17687}
export FCGRAPH_TEST_HTTP_PORT=${FCGRAPH_TEST_HTTP_PORT:-17474}
export FCGRAPH_REQUIRE_NEO4J=1
# the Neo4j Browser and offline-view tests drive headless Chromium: here they must run, not skip
export FCGRAPH_REQUIRE_BROWSER=${FCGRAPH_REQUIRE_BROWSER:-1}
# fcgraph's STTC against Elephant's (tests/interop; elephant comes with the dev extra): run, not skip
export FCGRAPH_REQUIRE_ELEPHANT=1
# the S3 tests' server (S3Proxy, jars fetched by setup.sh; java): run, not skip
export FCGRAPH_REQUIRE_S3=1
# set-up (the venv, Neo4j's and S3Proxy's jars, chromium for the browser tests) is setup.sh's,
# once; this script itself installs nothing and only runs the tests
bash scripts/setup.sh
mkdir -p test-artifacts
stop_db() { .venv/bin/fcgraph db stop || true; }
trap stop_db EXIT
.venv/bin/fcgraph db start --bolt-port "$FCGRAPH_TEST_BOLT_PORT" --http-port "$FCGRAPH_TEST_HTTP_PORT"
eval "$(.venv/bin/fcgraph db credentials --show)"
export NEO4J_URI NEO4J_USER NEO4J_PASSWORD
.venv/bin/ruff check fcgraph tests benchmarks
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir site  # the manual; broken links fail
.venv/bin/python -m pytest -ra "$@"
