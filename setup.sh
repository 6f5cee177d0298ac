#!/usr/bin/env bash
# One-time setup: a virtual environment at .venv/ with newswatch installed (editable) and its
# test dependencies, and the Prism runner built from the Go module proxy into var/bin/.
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
BEAM_VERSION=2.75.0   # must match apache-beam in pyproject.toml
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "newswatch needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
if [ ! -x var/bin/prism ] || [ "$(cat var/bin/prism.version 2>/dev/null)" != "$BEAM_VERSION" ]; then
  command -v go >/dev/null || { echo "Go is needed to build the Prism runner (apt-get install golang)" >&2; exit 1; }
  echo "building the Beam Prism runner v$BEAM_VERSION (first time only)..."
  mkdir -p var/bin
  GOBIN="$PWD/var/bin" GOFLAGS=-mod=mod go install "github.com/apache/beam/sdks/v2/go/cmd/prism@v$BEAM_VERSION"
  echo "$BEAM_VERSION" > var/bin/prism.version
fi
for tool in java javac mvn; do
  command -v "$tool" >/dev/null || echo "note: '$tool' not found; the local stack (newswatch stack up) needs a JDK 17+ and Maven" >&2
done
echo "newswatch is set up: .venv/bin/newswatch"
