#!/usr/bin/env bash
# Fetch Beam's Flink job-server jar from Maven Central with mvn, once per machine, and print its path.
#
#   bash deploy/flink/fetch-job-server.sh               # resolve (first time) and print the jar's path
#   bash deploy/flink/fetch-job-server.sh --print-path  # print the cached jar's path; exit 1 when absent, fetch nothing
#   BEAM_VERSION=2.75.0 FLINK_MINOR=1.20 bash deploy/flink/fetch-job-server.sh
#
# Then: news-ingest replay seeds --out out.jsonl --runner FlinkRunner --flink_master=[local] \
#         --flink_job_server_jar "$(bash deploy/flink/fetch-job-server.sh)" --environment_type=LOOPBACK
#
# Environment (all optional):
#   NEWS_INGEST_CACHE  cache root (default ~/.cache/news-ingest); jars go to $NEWS_INGEST_CACHE/flink
#   BEAM_VERSION       default: apache-beam pinned in pyproject.toml (the jar must match the Python SDK)
#   FLINK_MINOR        Flink line of the job server (default 2.2, the SDK's default --flink_version)
#   MVN                the Maven command (default mvn)
#
# As of 2026-11 the registry this workplace reaches serves no beam-runners-flink-*-job-server jar of any
# version tried (2.56.0 to 2.77.0, Flink 1.17 to 2.2): mvn answers "Could not find artifact". See docs/deploy.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
beam_version="${BEAM_VERSION:-$(sed -n 's/^[[:space:]]*"apache-beam==\([0-9][0-9.]*\)".*/\1/p' "$root/pyproject.toml" | head -n 1)}"
flink_minor="${FLINK_MINOR:-2.2}"
cache="${NEWS_INGEST_CACHE:-$HOME/.cache/news-ingest}/flink"
name="beam-runners-flink-${flink_minor}-job-server-${beam_version}.jar"
jar="$cache/$name"
mvn="${MVN:-mvn}"

if [[ -s "$jar" ]]; then
  echo "$jar"
  exit 0
fi
if [[ "${1:-}" == "--print-path" ]]; then
  echo "fetch-job-server: $jar is not in the cache" >&2
  exit 1
fi
[[ -n "$beam_version" ]] || { echo "fetch-job-server: no apache-beam pin in pyproject.toml; set BEAM_VERSION" >&2; exit 2; }
command -v "$mvn" >/dev/null || { echo "fetch-job-server: mvn not found (apt-get install maven)" >&2; exit 2; }
command -v java >/dev/null || echo "fetch-job-server: warning: java not found; FlinkRunner needs Java 11 or 17 to start the job server" >&2

mkdir -p "$cache"
log="$cache/mvn-$flink_minor-$beam_version.log"
echo "fetch-job-server: resolving org.apache.beam:beam-runners-flink-${flink_minor}-job-server:${beam_version}" >&2
if ! "$mvn" -B -U -f "$here/pom.xml" dependency:copy -Dbeam.version="$beam_version" -Dflink.minor="$flink_minor" \
     -DoutputDirectory="$cache" >"$log" 2>&1; then
  grep -E "ERROR" "$log" | head -n 5 >&2 || tail -n 20 "$log" >&2
  echo "fetch-job-server: mvn could not resolve the job-server jar (full log: $log)" >&2
  exit 1
fi
test -s "$jar"
echo "$jar"
