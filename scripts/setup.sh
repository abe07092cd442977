#!/usr/bin/env bash
# Set up a fresh machine for fcgraph: a virtual environment in .venv with fcgraph installed
# (editable, with the dev, fast, docs, dask, interop and s3 extras), the Neo4j jars fetched from
# Maven Central, S3Proxy's jars (Maven Central, with mvn; into .test-services/s3proxy/lib) for the
# tests' S3 server, and Debian's chromium for the browser tests (apt-get, as root; skipped with
# FCGRAPH_REQUIRE_BROWSER=0).
# Idempotent: rerunning it only checks that everything is in place. scripts/test.sh runs it first;
# it is the only script that installs system packages.
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
         .venv/bin/python -m pip install -e ".[dev,fast,docs,dask,interop,s3]"; } > "$log" 2>&1; then
    tail -n 20 "$log"; echo "pip install failed; full log in $log" >&2; exit 1
  fi
  touch "$stamp"
fi
.venv/bin/fcgraph db install ${FCGRAPH_STATE_DIR:+--state-dir "$FCGRAPH_STATE_DIR"}
# S3Proxy's jars (tests/services/s3proxy/pom.xml) for the tests' S3-compatible server (the s3_store
# fixture of tests/conftest.py runs them with java); .complete is written only once all are there
s3proxy=.test-services/s3proxy
if [ ! -f "$s3proxy/lib/.complete" ]; then
  if ! command -v mvn >/dev/null 2>&1; then
    echo "not fetching S3Proxy's jars (no mvn): the S3 tests need them (install maven and rerun);" \
         "scripts/test.sh makes them fail without them" >&2
  else
    echo "fetching S3Proxy's jars for the S3 tests (mvn, about 40 MB the first time)"
    rm -rf "$s3proxy/lib"; mkdir -p "$s3proxy"
    log=$s3proxy/mvn.log
    if ! mvn -B -q -f tests/services/s3proxy/pom.xml dependency:copy-dependencies \
           -DoutputDirectory="$PWD/$s3proxy/lib" > "$log" 2>&1; then
      tail -n 20 "$log"; echo "fetching S3Proxy's jars failed; full log in $log" >&2; exit 1
    fi
    touch "$s3proxy/lib/.complete"
  fi
fi
# Debian's chromium for the Browser and offline-view tests (Playwright, from the dev extra, drives
# it; no browser download), if there is no Chromium: the one system package set-up installs
have_chromium() {
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$name" >/dev/null 2>&1 && return 0
  done
  return 1
}
if [ "${FCGRAPH_REQUIRE_BROWSER:-1}" != 0 ] && [ -z "${FCGRAPH_CHROMIUM:-}" ] && ! have_chromium; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    why="not root"; command -v apt-get >/dev/null 2>&1 || why="no apt-get"
    echo "not installing chromium ($why): the browser tests need it (install chromium, or set" \
         "FCGRAPH_CHROMIUM to a Chromium executable); scripts/test.sh makes them fail without" \
         "it, unless FCGRAPH_REQUIRE_BROWSER=0 lets them skip" >&2
  else
    mkdir -p test-artifacts
    log=test-artifacts/apt-chromium.log
    echo "installing chromium for the browser tests (apt-get, about a minute; log in $log)"
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -q --no-install-recommends chromium; } > "$log" 2>&1; then
      tail -n 20 "$log"; echo "apt-get install chromium failed; full log in $log" >&2; exit 1
    fi
  fi
fi
