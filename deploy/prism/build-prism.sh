#!/usr/bin/env bash
# Build Beam's Prism runner from its Go module, once per machine, and print its path.
#
# Idempotent: when the binary for this Beam version is already in the cache it is
# reused and nothing is fetched. The only network use is the Go module proxy, at
# build time; the built binary runs offline.
#
#   bash deploy/prism/build-prism.sh          # prints /path/to/prism on stdout
#   PRISM_VERSION=v2.77.0 NEWS_INGEST_CACHE=/tmp/c bash deploy/prism/build-prism.sh
#
# The version is the apache-beam pinned in pyproject.toml (the SDK and the runner
# must match); set PRISM_VERSION to override it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# The runner must match the SDK: take the version pinned in pyproject.toml, else the installed one.
version="${PRISM_VERSION:-}"
if [[ -z "$version" ]]; then
  pinned="$(sed -n 's/^[[:space:]]*"apache-beam==\([0-9][0-9.]*\)".*/\1/p' "$root/pyproject.toml" | head -n 1)"
  if [[ -n "$pinned" ]]; then
    version="v$pinned"
  else
    version="v$("${PYTHON:-python3}" -c 'import importlib.metadata as m; print(m.version("apache-beam"))')"
  fi
fi
cache="${NEWS_INGEST_CACHE:-$HOME/.cache/news-ingest}"
bindir="$cache/prism/$version"
bin="$bindir/prism"

if [[ -x "$bin" ]]; then
  echo "build-prism: reusing $bin" >&2
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  for g in /usr/local/go/bin/go /usr/lib/go/bin/go; do
    if [[ -x "$g" ]]; then PATH="$(dirname "$g"):$PATH"; break; fi
  done
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-prism: the Go toolchain is missing (install it: apt-get install golang-go, or go.dev)" >&2
  exit 2
fi

mkdir -p "$bindir"
echo "build-prism: building prism $version with $(go version) into $bindir" >&2
# CGO off: a static binary that runs on a slim image too.
GOBIN="$bindir" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}" \
  go install "github.com/apache/beam/sdks/v2/go/cmd/prism@${version}" >&2
test -x "$bin"
echo "$bin"
