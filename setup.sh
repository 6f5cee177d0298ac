#!/usr/bin/env bash
# One-time setup: a virtual environment at .venv/ with newswatch installed (editable) and its
# test dependencies, the hot NLP modules compiled into var/accel/ (when a C compiler is there),
# and the Prism runner built from the Go module proxy into var/bin/.
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
BEAM_VERSION=2.77.0   # must match apache-beam in pyproject.toml
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "newswatch needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,accel]'
# Compile the hot NLP modules (Cython, from the same .py files) unless a build from the current
# sources is there; without a C compiler the pure-Python modules run (slower, same results).
if ! NEWSWATCH_PURE_PYTHON= .venv/bin/python -W ignore -c \
    'import sys; from newswatch.pipelines.nlp._accel import compiled_dir_if_current as c; sys.exit(c() is None)'; then
  echo "compiling the NLP hot paths (first time, or after they changed)..."
  .venv/bin/python -W ignore::UserWarning -c 'import sys; from newswatch.pipelines.nlp._accel import build; sys.exit(build())' \
    || echo "note: running the NLP modules as pure Python" >&2
fi
if [ ! -x var/bin/prism ] || [ "$(cat var/bin/prism.version 2>/dev/null)" != "$BEAM_VERSION" ]; then
  command -v go >/dev/null || { echo "Go is needed to build the Prism runner (apt-get install golang)" >&2; exit 1; }
  echo "building the Beam Prism runner v$BEAM_VERSION (first time only)..."
  mkdir -p var/bin
  GOBIN="$PWD/var/bin" GOFLAGS=-mod=mod go install "github.com/apache/beam/sdks/v2/go/cmd/prism@v$BEAM_VERSION"
  echo "$BEAM_VERSION" > var/bin/prism.version
fi
# kcat: a librdkafka (non-Python) producer; the codec tests send gzip/snappy/lz4/zstd batches with it.
if ! command -v kcat >/dev/null; then
  if command -v apt-get >/dev/null && apt-get update -qq && apt-get install -y -qq kcat >/dev/null; then
    echo "installed kcat (Debian package)"
  else
    echo "note: could not install kcat (apt-get install kcat); the codec tests will be skipped" >&2
  fi
fi
# chromium: the real browser tests/integration/test_page.py drives through Playwright. Playwright's own
# browser download is never used (it cannot work here); Debian's package is.
if ! command -v chromium >/dev/null; then
  if command -v apt-get >/dev/null && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
    echo "installed chromium (Debian package)"
  else
    echo "note: could not install chromium (apt-get install chromium); the web page tests will be skipped" >&2
  fi
fi
for tool in java javac mvn; do
  command -v "$tool" >/dev/null || echo "note: '$tool' not found; the local stack (newswatch stack up) needs a JDK 17+ and Maven" >&2
done
echo "newswatch is set up: .venv/bin/newswatch"
