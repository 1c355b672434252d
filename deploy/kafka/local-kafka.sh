#!/usr/bin/env bash
# A single-node Apache Kafka 4.x broker (KRaft: broker and controller in one JVM) for development, tests and CI.
#
#   bash deploy/kafka/local-kafka.sh start    # resolve jars (first time, with mvn), format storage (first time), start, wait until it answers
#   bash deploy/kafka/local-kafka.sh status   # exit 0 when the broker answers, 3 when it is stopped
#   bash deploy/kafka/local-kafka.sh stop     # SIGTERM, wait for a clean shutdown (SIGKILL after KAFKA_STOP_TIMEOUT)
#   bash deploy/kafka/local-kafka.sh restart
#   bash deploy/kafka/local-kafka.sh clean    # stop, then delete the broker's data (topics, offsets); the jars stay
#
# No Docker: the jars of org.apache.kafka:kafka_2.13 (deploy/kafka/pom.xml) come from Maven Central through
# `mvn dependency:copy-dependencies` into a cache folder shared by every checkout on the machine, so CI in a
# fresh clone reuses what a developer's run fetched. `start` on a running broker is a no-op.
#
# Environment (all optional):
#   NEWS_INGEST_CACHE      cache root (default ~/.cache/news-ingest); the broker lives in $NEWS_INGEST_CACHE/kafka
#   KAFKA_HOME_DIR         override the broker folder itself (libs/, data/, broker.log, broker.pid)
#   KAFKA_PORT             client listener port (default 9092); KAFKA_CONTROLLER_PORT (default 9093)
#   KAFKA_HEAP_OPTS        JVM heap (default -Xms256m -Xmx768m)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to answer (default 120); KAFKA_STOP_TIMEOUT (default 30)
#   MVN                    the Maven command, options allowed (default mvn)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")"
CACHE_ROOT="${NEWS_INGEST_CACHE:-$HOME/.cache/news-ingest}"
BASE="${KAFKA_HOME_DIR:-$CACHE_ROOT/kafka}"
LIBS="$BASE/libs-$KAFKA_VERSION"
DATA="$BASE/data"
CONF="$BASE/server.properties"
LOG_FILE="$BASE/broker.log"
OUT_FILE="$BASE/broker.out"
PID_FILE="$BASE/broker.pid"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
MVN="${MVN:-mvn}"

say() { echo "local-kafka: $*"; }
die() { echo "local-kafka: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

broker_pid() {
  # The pid in the pid file, only while that process is still our broker (a reused pid is ignored).
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "kafka.Kafka $CONF" || return 1
  echo "$pid"
}

started_logged() {
  # The broker logs this line once it has joined the quorum and opened its listeners.
  [[ -f "$LOG_FILE" ]] && grep -q "Kafka Server started" "$LOG_FILE"
}

answers() { broker_pid >/dev/null && port_open "$PORT" && started_logged; }

fetch_jars() {
  if [[ -f "$LIBS/.complete" ]]; then
    return 0
  fi
  command -v "${MVN%% *}" >/dev/null || die "mvn not found: install Maven (apt-get install maven) to fetch the Kafka $KAFKA_VERSION jars"
  command -v java >/dev/null || die "java not found: Kafka $KAFKA_VERSION needs Java 17 or newer"
  say "fetching Apache Kafka $KAFKA_VERSION jars with Maven into $LIBS"
  rm -rf "$LIBS.tmp"
  mkdir -p "$LIBS.tmp"
  # shellcheck disable=SC2086  # MVN may carry options, e.g. MVN="mvn -Dmaven.repo.local=/tmp/m2"
  if ! $MVN -B -q -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIBS.tmp" >"$BASE/mvn.log" 2>&1; then
    tail -n 30 "$BASE/mvn.log" >&2
    die "mvn could not resolve the Kafka jars (full log: $BASE/mvn.log)"
  fi
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  touch "$LIBS/.complete"
}

write_config() {
  sed -e "s#@LOG_DIRS@#$DATA#" \
      -e "s#localhost:9092#localhost:$PORT#g" \
      -e "s#localhost:9093#localhost:$CONTROLLER_PORT#g" \
      "$HERE/server.properties" >"$CONF"
}

java_args() {
  # The JVM flags shared by the storage tool and the broker; word splitting of HEAP_OPTS is intended.
  # shellcheck disable=SC2206
  JAVA_ARGS=($HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.file="$LOG_FILE"
    -cp "$LIBS/*")
}

java_cmd() { java_args; java "${JAVA_ARGS[@]}" "$@"; }

format_storage() {
  if [[ -f "$DATA/meta.properties" ]]; then
    return 0
  fi
  local cluster_id
  cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid 2>>"$OUT_FILE" | tail -n 1)"
  [[ -n "$cluster_id" ]] || die "could not generate a cluster id (see $OUT_FILE)"
  say "formatting storage in $DATA (cluster $cluster_id)"
  mkdir -p "$DATA"
  java_cmd kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$CONF" --ignore-formatted >>"$OUT_FILE" 2>&1 \
    || die "formatting the storage failed (see $OUT_FILE)"
}

start() {
  mkdir -p "$BASE"
  if answers; then
    say "already running (pid $(broker_pid)) on localhost:$PORT"
    return 0
  fi
  if ! broker_pid >/dev/null; then
    if port_open "$PORT"; then
      die "port $PORT is taken by another process; stop it or set KAFKA_PORT"
    fi
    if port_open "$CONTROLLER_PORT"; then
      die "port $CONTROLLER_PORT is taken by another process; stop it or set KAFKA_CONTROLLER_PORT"
    fi
    fetch_jars
    write_config
    format_storage
    [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
    say "starting Kafka $KAFKA_VERSION on localhost:$PORT (controller $CONTROLLER_PORT), log $LOG_FILE"
    # setsid: the broker outlives the shell (and the test session) that started it.
    java_args
    setsid nohup java "${JAVA_ARGS[@]}" kafka.Kafka "$CONF" >>"$OUT_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
  fi
  local pid waited=0
  pid="$(cat "$PID_FILE")"
  until answers; do
    # kill -0, not broker_pid: right after the fork the child has not exec'd java yet.
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$OUT_FILE" "$LOG_FILE" >&2 || true
      die "the broker exited during start (see $LOG_FILE and $OUT_FILE)"
    fi
    if (( waited >= START_TIMEOUT * 2 )); then
      tail -n 30 "$LOG_FILE" >&2 || true
      die "the broker did not answer on localhost:$PORT within ${START_TIMEOUT}s (see $LOG_FILE)"
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  say "running (pid $(broker_pid)) on localhost:$PORT"
}

stop() {
  local pid
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  say "stopping (pid $pid)"
  kill -TERM "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if (( waited >= STOP_TIMEOUT * 2 )); then
      say "no clean shutdown after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  rm -f "$PID_FILE"
  say "stopped"
}

status() {
  local pid
  if pid="$(broker_pid)"; then
    if answers; then
      say "running (pid $pid) on localhost:$PORT, data $DATA, log $LOG_FILE"
      return 0
    fi
    say "starting or unhealthy (pid $pid, not answering on localhost:$PORT yet); see $LOG_FILE"
    return 1
  fi
  if port_open "$PORT"; then
    say "not started by this script, but something listens on localhost:$PORT"
    return 3
  fi
  say "stopped"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  clean) stop; rm -rf "$DATA" "$CONF"; say "data removed ($DATA)" ;;
  *) echo "usage: $0 start|stop|restart|status|clean" >&2; exit 2 ;;
esac
