"""Observability of a run: the /metrics, /healthz and /readyz server, consumer lag, logs and clean shutdown.

The composition root (``replay``, ``run``) enters one :class:`Observability` around its pipeline. It
creates a fresh prometheus-client multiprocess folder and sets ``PROMETHEUS_MULTIPROC_DIR`` *before*
any Beam worker starts, so DoFns in this process and in worker subprocesses
(``--direct_running_mode multi_processing``) all write their counts to files that the exporter adds
up (``MultiProcessCollector``). What only the launching process knows (consumer lag, build info) is
computed at scrape time by a collector here. docs/observability.md explains the choice.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Mapping

from pipeline.options import port_number, positive_float
from transforms import metrics

__all__ = [
    "MULTIPROC_ENV",
    "DEFAULT_METRICS_HOST",
    "DEFAULT_SHUTDOWN_TIMEOUT_SECONDS",
    "LOG_FORMATS",
    "add_arguments",
    "configure_logging",
    "log_event",
    "ConsumerLagProbe",
    "LagPoller",
    "MetricsServer",
    "GracefulShutdown",
    "Observability",
    "replay_session",
    "run_session",
    "runner_name",
]

_LOGGER = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_METRICS_HOST = "0.0.0.0"
DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 25.0  # under Kubernetes' default 30 s grace period
DEFAULT_LAG_INTERVAL_SECONDS = 10.0
LOG_FORMATS = ("text", "json")
_FORCED_EXIT_STATUS = 1


# --- command line ---------------------------------------------------------------------------

def add_arguments(parser, *, shutdown: bool = False) -> None:
    """--metrics-port, --metrics-host, --log-format (and --shutdown-timeout for long-running jobs)."""
    parser.add_argument("--metrics-port", type=port_number, metavar="PORT",
                        help="serve Prometheus metrics at http://HOST:PORT/metrics, with /healthz and "
                             "/readyz, while the job runs (0: any free port, logged)")
    parser.add_argument("--metrics-host", default=DEFAULT_METRICS_HOST, metavar="HOST",
                        help=f"address the metrics server listens on (default {DEFAULT_METRICS_HOST})")
    parser.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                        help="text (default) or json: one JSON object per line, for log shippers")
    if shutdown:
        parser.add_argument("--shutdown-timeout", type=positive_float, default=DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
                            metavar="SECONDS", help="after SIGTERM/SIGINT, how long to finish and commit what "
                            f"is in flight before exiting anyway (default {DEFAULT_SHUTDOWN_TIMEOUT_SECONDS:g})")


# --- logs -----------------------------------------------------------------------------------

class _DropImportNoise(logging.Filter):
    # Beam logs this at import on every machine without Google Cloud libraries; it says nothing about us.
    def filter(self, record):
        return "apitools not found" not in record.getMessage()


class _DropKafkaSlowTaskWarnings(logging.Filter):
    """kafka-python 3 warns when a step of its I/O thread takes over 0.1 s. Here that means another
    thread held the GIL (Beam, spaCy, a full GC), not a stuck client; it came once in a while under
    load, and turned a one-line error into two. Shown at DEBUG."""

    def filter(self, record):
        if record.name != "kafka.net.selector" or "threshold). It is blocking the event loop" not in record.getMessage():
            return True
        return logging.getLogger().getEffectiveLevel() <= logging.DEBUG


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the event's fields, the traceback."""

    def format(self, record):
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = getattr(record, "event", None)
        if event:
            entry["event"] = event
            entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record):
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if getattr(record, "event", None) and fields:
            # the message already reads well; the fields follow as key=value for grep
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


class _BeamErrorsWithoutTraceback(logging.Filter):
    """Beam logs a failing DoFn with its whole traceback before the run fails; the CLI then says in one
    line what failed. Its message stays, the traceback shows when a log level is set."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.name.startswith("apache_beam"):
            record.exc_info, record.exc_text = None, None
        return True


class _DropKafkaClientLog(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "kafka" or record.name.startswith("kafka.")) or record.levelno >= logging.CRITICAL


def configure_logging(log_format: str = "text", level: str | None = None, *, events: bool = True) -> None:
    """Logging to stderr in ``text`` or ``json``, one line per record.

    The root level comes from ``level``, else NEWS_INGEST_LOG_LEVEL, else WARNING (Beam is chatty at
    INFO). With ``events``, this project's own loggers (pipeline.*, transforms.*) log at INFO so that
    run events show; NEWS_INGEST_LOG_LEVEL, when set, applies to them too.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(_JsonFormatter() if log_format == "json" else _TextFormatter())
    handler.addFilter(_DropImportNoise())
    handler.addFilter(_DropKafkaSlowTaskWarnings())
    explicit = level or os.environ.get("NEWS_INGEST_LOG_LEVEL")
    logging.basicConfig(level=explicit or "WARNING", handlers=[handler], force=True)
    ours = explicit or ("INFO" if events else "WARNING")
    for name in ("pipeline", "transforms"):
        logging.getLogger(name).setLevel(ours)
    if not explicit:
        handler.addFilter(_BeamErrorsWithoutTraceback())
        # The Kafka client logs every failed connection attempt (20-60 lines before a bootstrap gives up);
        # the CLI says in one line what failed (transforms/kafka/admin.py reads those records to tell
        # unreachable from refused credentials). Shown when a log level is set.
        handler.addFilter(_DropKafkaClientLog())


def log_event(logger: logging.Logger, event: str, message: str, level: int = logging.INFO, **fields) -> None:
    """One line for an event that matters (run started, stop requested, run finished, ...).

    In JSON the line carries ``event`` and the fields as keys; in text the fields follow as key=value.
    """
    logger.log(level, message, extra={"event": event, "fields": fields})


# --- consumer lag ---------------------------------------------------------------------------

class ConsumerLagProbe:
    """End offset minus committed offset of the job's consumer group, per topic partition.

    A partition the group never committed counts from its beginning offset (all of it is unread).
    Uses its own KafkaConsumer that never subscribes (so it never joins the group) and never commits.
    """

    def __init__(self, client_kwargs: Mapping[str, Any], group_id: str, topics: Iterable[str],
                 consumer_factory: Callable[..., Any] | None = None, timeout_ms: int = 5000):
        self._kwargs = dict(client_kwargs)
        self._group_id = group_id
        self._topics = tuple(topics)
        self._factory = consumer_factory
        self._timeout_ms = timeout_ms
        self._consumer = None

    def _client(self):
        if self._consumer is None:
            factory = self._factory
            if factory is None:
                from kafka import KafkaConsumer as factory
            self._consumer = factory(**self._kwargs, group_id=self._group_id, enable_auto_commit=False,
                                     request_timeout_ms=max(self._timeout_ms, 1000) + 1000)
        return self._consumer

    def poll(self) -> dict[tuple[str, int], int]:
        from kafka import TopicPartition

        consumer = self._client()
        partitions = []
        for topic in self._topics:
            found = consumer.partitions_for_topic(topic)
            if found is None:
                consumer.topics()  # refresh metadata for a topic created after start
                found = consumer.partitions_for_topic(topic) or ()
            partitions.extend(TopicPartition(topic, p) for p in sorted(found))
        if not partitions:
            return {}
        ends = consumer.end_offsets(partitions, timeout_ms=self._timeout_ms)
        begins = consumer.beginning_offsets(partitions, timeout_ms=self._timeout_ms)
        lag = {}
        for tp in partitions:
            committed = consumer.committed(tp, timeout_ms=self._timeout_ms)
            start = committed if committed is not None else begins[tp]
            lag[(tp.topic, tp.partition)] = max(ends[tp] - start, 0)
        return lag

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close(autocommit=False)
            except TypeError:
                self._consumer.close()
            self._consumer = None


class LagPoller:
    """Polls a probe every ``interval`` seconds in a daemon thread; keeps the last answer.

    Its success doubles as the readiness check "Kafka answers".
    """

    def __init__(self, probe, interval: float = DEFAULT_LAG_INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._probe = probe
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._lag: dict[tuple[str, int], int] = {}
        self._ok_at: float | None = None
        self._error: str | None = "not polled yet"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "LagPoller":
        self._thread = threading.Thread(target=self._run, name="news-ingest-lag", daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self._interval)

    def poll_once(self) -> None:
        try:
            lag = self._probe.poll()
        except Exception as err:  # pylint: disable=broad-except
            with self._lock:
                first = self._error is None
                self._error = f"{type(err).__name__}: {err}"
            if first:
                _LOGGER.warning("consumer lag: Kafka does not answer (%s)", err)
            return
        with self._lock:
            if self._error is not None and self._ok_at is not None:
                _LOGGER.warning("consumer lag: Kafka answers again")
            self._lag, self._ok_at, self._error = lag, self._clock(), None

    def lag(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._lag)

    def healthy(self) -> tuple[bool, str]:
        """Kafka answered the last poll, and that poll is recent (within three intervals)."""
        with self._lock:
            if self._error is not None:
                return False, self._error
            age = self._clock() - self._ok_at
            if age > 3 * self._interval + 5:
                return False, f"last answer {age:.0f} s ago"
            return True, "ok"

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            if self._thread.is_alive():  # stuck in a poll: a daemon thread, it ends with the process
                return
        self._probe.close()


class _LauncherCollector:
    """What only the launching process knows, computed at each scrape: build info and consumer lag."""

    def __init__(self, build_info: Mapping[str, str], lag: Callable[[], Mapping[tuple[str, int], int]] | None):
        self._build_info = dict(build_info)
        self._lag = lag

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        info = GaugeMetricFamily(metrics.BUILD_INFO, "Always 1; the labels say what is running.",
                                 labels=sorted(self._build_info))
        info.add_metric([self._build_info[k] for k in sorted(self._build_info)], 1.0)
        yield info
        if self._lag is not None:
            lag = GaugeMetricFamily(metrics.CONSUMER_LAG, "End offset minus the consumer group's committed "
                                    "offset, per partition (polled every few seconds).", labels=["topic", "partition"])
            for (topic, partition), value in sorted(self._lag().items()):
                lag.add_metric([topic, str(partition)], float(value))
            yield lag


# --- HTTP server ----------------------------------------------------------------------------

class MetricsServer:
    """/metrics (Prometheus text format), /healthz (liveness) and /readyz (readiness) on one port.

    ``render`` returns (body, content type) for /metrics; ``liveness`` and ``readiness`` return
    (ok, {check: detail}). Runs in daemon threads; ``port`` is the bound port (useful with port 0).
    """

    def __init__(self, host: str, port: int, render: Callable[[], tuple[bytes, str]],
                 liveness: Callable[[], tuple[bool, dict]], readiness: Callable[[], tuple[bool, dict]]):
        handler = _make_handler(render, liveness, readiness)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="news-ingest-metrics", daemon=True)

    def start(self) -> "MetricsServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _make_handler(render, liveness, readiness):
    class Handler(BaseHTTPRequestHandler):
        server_version = "news-ingest"

        def do_GET(self):  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            try:
                if path == "/metrics":
                    body, content_type = render()
                    self._send(200, body, content_type)
                elif path in ("/healthz", "/readyz"):
                    ok, checks = (liveness if path == "/healthz" else readiness)()
                    body = json.dumps({"status": "ok" if ok else "unavailable", "checks": checks}).encode()
                    self._send(200 if ok else 503, body, "application/json")
                else:
                    self._send(404, b"not found: try /metrics, /healthz or /readyz\n", "text/plain")
            except Exception as err:  # pylint: disable=broad-except
                _LOGGER.exception("metrics server failed on %s", path)
                self._send(500, f"{type(err).__name__}: {err}\n".encode(), "text/plain")

        def _send(self, status, body, content_type):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # scrapes every few seconds are not events  # noqa: A002
            return

    return Handler


# --- shutdown -------------------------------------------------------------------------------

class GracefulShutdown:
    """SIGTERM/SIGINT: stop reading, let what is in flight finish and commit, exit within a bound.

    The first signal logs one line, marks the job not ready and calls every ``on_stop`` callback once
    (the Kafka run loop registers the one that makes its source stop reading); a watchdog then gives
    the job ``timeout`` seconds. If the job has not returned by then, the process exits with status 1
    (what was not committed is read again on restart: at-least-once). A second signal exits at once
    (status 128 + signal number). ``install`` must run in the main thread.
    """

    def __init__(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT_SECONDS, exit_fn: Callable[[int], None] = os._exit):
        self._timeout = timeout
        self._exit = exit_fn
        self._callbacks: list[Callable[[], None]] = []
        self._previous: dict[int, Any] = {}
        self._requested = threading.Event()
        self._done = threading.Event()
        self.signal_name: str | None = None

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (once, from the signal handler) when a stop is requested."""
        self._callbacks.append(callback)
        if self._requested.is_set():
            callback()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._requested.wait(timeout)

    def install(self) -> "GracefulShutdown":
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def uninstall(self) -> None:
        self._done.set()
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def request_stop(self, reason: str = "requested") -> None:
        """What a signal does, callable directly (tests, an admin endpoint)."""
        if self._requested.is_set():
            return
        self.signal_name = reason
        self._requested.set()
        log_event(_LOGGER, "stop_requested", f"stopping ({reason}): no more reading; finishing and committing "
                  f"what is in flight, at most {self._timeout:g} s", level=logging.WARNING, reason=reason,
                  timeout_seconds=self._timeout)
        threading.Thread(target=self._watchdog, name="news-ingest-shutdown", daemon=True).start()
        for callback in self._callbacks:
            try:
                callback()
            except Exception:  # pylint: disable=broad-except
                _LOGGER.exception("stop callback failed")

    def _handle(self, signum, _frame):
        name = signal.Signals(signum).name
        if self._requested.is_set():
            log_event(_LOGGER, "forced_exit", f"second {name}: exiting now; uncommitted records will be read again",
                      level=logging.ERROR, signal=name)
            _flush_logs()
            self._exit(128 + signum)
            return
        self.request_stop(name)

    def _watchdog(self):
        if self._done.wait(self._timeout):
            return
        log_event(_LOGGER, "forced_exit", f"shutdown did not finish within {self._timeout:g} s: exiting with status "
                  f"{_FORCED_EXIT_STATUS}; uncommitted records will be read again", level=logging.ERROR,
                  timeout_seconds=self._timeout)
        _flush_logs()
        self._exit(_FORCED_EXIT_STATUS)

    def finished(self) -> None:
        """The job returned: the watchdog stands down."""
        self._done.set()

    def __enter__(self):
        return self.install()

    def __exit__(self, *exc):
        self.uninstall()
        return False


def _flush_logs():
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # pylint: disable=broad-except
            pass
    sys.stderr.flush()


# --- the whole thing ------------------------------------------------------------------------

class Observability:
    """Metrics files, the exporter, readiness checks and (optionally) the shutdown handler of one run.

    Enter it before the pipeline starts (so that workers inherit ``PROMETHEUS_MULTIPROC_DIR``), leave
    it after the pipeline returned. Without a port it still collects the per-process metrics, serves
    nothing and needs no folder.
    """

    def __init__(self, *, port: int | None, host: str = DEFAULT_METRICS_HOST, build_info: Mapping[str, str],
                 lag_probe=None, lag_interval: float = DEFAULT_LAG_INTERVAL_SECONDS,
                 shutdown: GracefulShutdown | None = None, description: str = ""):
        self._port = port
        self._description = description
        self._started: float | None = None
        self._host = host
        self._build_info = dict(build_info)
        self._lag_probe = lag_probe
        self._lag_interval = lag_interval
        self.shutdown = shutdown
        self._folder: str | None = None
        self._previous_env: str | None = None
        self._server: MetricsServer | None = None
        self._poller: LagPoller | None = None
        self._ready: dict[str, tuple[bool, str]] = {}
        self._checks: dict[str, Callable[[], tuple[bool, str]]] = {}
        self._failed: str | None = None
        self._lock = threading.Lock()

    # readiness and liveness
    def mark_ready(self, check: str, detail: str = "ok") -> None:
        with self._lock:
            self._ready[check] = (True, detail)

    def mark_not_ready(self, check: str, detail: str) -> None:
        with self._lock:
            self._ready[check] = (False, detail)

    def add_readiness_check(self, name: str, check: Callable[[], tuple[bool, str]]) -> None:
        self._checks[name] = check

    def mark_failed(self, reason: str) -> None:
        """The job cannot go on: /healthz answers 503 so that an orchestrator restarts it."""
        self._failed = reason

    def liveness(self) -> tuple[bool, dict]:
        if self._failed:
            return False, {"job": self._failed}
        return True, {"job": "running"}

    def readiness(self) -> tuple[bool, dict]:
        with self._lock:
            results = dict(self._ready)
        for name, check in self._checks.items():
            try:
                results[name] = check()
            except Exception as err:  # pylint: disable=broad-except
                results[name] = (False, f"{type(err).__name__}: {err}")
        if self.shutdown is not None and self.shutdown.requested:
            results["stopping"] = (False, f"stop requested ({self.shutdown.signal_name})")
        ok = bool(results) and all(ok for ok, _ in results.values())
        return ok, {name: detail for name, (_, detail) in results.items()}

    # metrics
    @property
    def port(self) -> int | None:
        return self._server.port if self._server is not None else None

    @property
    def multiprocess_dir(self) -> str | None:
        return self._folder

    def registry(self):
        """The registry /metrics renders: every process's files (or this process alone) plus the launcher's."""
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        if self._folder is not None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self._folder)
        else:
            registry = CollectorRegistry()
            registry.register(_Forward(metrics.registry()))
        registry.register(_LauncherCollector(self._build_info, self._poller.lag if self._poller else None))
        return registry

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry()), CONTENT_TYPE_LATEST

    def totals(self) -> dict[str, float]:
        """Sums of the counters (for the end-of-run log line)."""
        wanted = {f"{metrics.PREFIX}_{name}_total": name for name in ("articles_read", "articles_written",
                                                                        "duplicates", "dead_letters")}
        found = {name: 0.0 for name in wanted.values()}
        for family in self.registry().collect():
            for sample in family.samples:
                if sample.name in wanted:
                    found[wanted[sample.name]] += sample.value
        return found

    # lifecycle
    def __enter__(self) -> "Observability":
        self._started = time.monotonic()
        if self._port is not None:
            self._folder = tempfile.mkdtemp(prefix="news-ingest-metrics-")
            self._previous_env = os.environ.get(MULTIPROC_ENV)
            os.environ[MULTIPROC_ENV] = self._folder
        metrics.reset()
        if self._lag_probe is not None:
            self._poller = LagPoller(self._lag_probe, self._lag_interval).start()
            self.add_readiness_check("kafka", self._poller.healthy)
        if self.shutdown is not None:
            self.shutdown.install()
        if self._port is not None:
            try:
                self._server = MetricsServer(self._host, self._port, self.render, self.liveness, self.readiness).start()
            except OSError as err:
                self.__exit__(None, None, None)
                from pipeline.options import UsageError

                raise UsageError(f"cannot serve metrics on {self._host}:{self._port}: {err.strerror or err}") from None
        served = f", metrics at http://{self._host}:{self._server.port}/metrics" if self._server else ""
        log_event(_LOGGER, "run_started", f"run started: {self._build_info['runner']}, model "
                  f"{self._build_info['spacy_model']}" + (f", {self._description}" if self._description else "") + served,
                  **self._build_info, metrics_port=self.port)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.shutdown is not None:
            self.shutdown.finished()
            self.shutdown.uninstall()
        if exc_type is not None and exc_type is not KeyboardInterrupt:
            self.mark_failed(f"{exc_type.__name__}: {exc}")
        totals = {}
        if self._folder is not None:  # without the files, workers' counts are not visible here
            try:
                totals = {k: int(v) for k, v in self.totals().items()}
            except Exception:  # pylint: disable=broad-except
                _LOGGER.warning("cannot sum the run's metrics", exc_info=True)
        seconds = round(time.monotonic() - (self._started or time.monotonic()), 1)
        outcome = "failed" if exc_type is not None else ("stopped" if self.shutdown and self.shutdown.requested else "finished")
        summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in totals.items())
        log_event(_LOGGER, f"run_{outcome}", f"run {outcome} after {seconds} s" + (f": {summary}" if summary else ""),
                  level=logging.ERROR if exc_type is not None else logging.INFO, seconds=seconds, **totals)
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._folder is not None:
            if self._previous_env is None:
                os.environ.pop(MULTIPROC_ENV, None)
            else:
                os.environ[MULTIPROC_ENV] = self._previous_env
            metrics.reset()
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        if self._poller is not None:  # last: a poll in progress may take a few seconds to give up
            self._poller.stop()
            self._poller = None
        return False


class _Forward:
    """Collects another registry (this process's own metrics, when no multiprocess folder is used)."""

    def __init__(self, registry):
        self._registry = registry

    def collect(self):
        return self._registry.collect()


def replay_session(args, options, config) -> Observability:
    """The Observability of ``news-ingest replay``: metrics (when --metrics-port is given) and logs."""
    return _session(args, options, config)


def run_session(args, options, config, source_config, on_stop: Callable[[], None]) -> Observability:
    """The Observability of ``news-ingest run``: metrics, consumer lag and readiness of the group's
    topics (``source_config``: a KafkaSourceConfig), and SIGTERM/SIGINT handling that calls ``on_stop``
    (the run loop's "stop reading") once, then bounds the wait with ``--shutdown-timeout``."""
    shutdown = GracefulShutdown(timeout=getattr(args, "shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT_SECONDS))
    shutdown.on_stop(on_stop)
    probe = ConsumerLagProbe(source_config.connection.client_kwargs(), source_config.group_id, source_config.topics)
    return _session(args, options, config, lag_probe=probe, shutdown=shutdown,
                    description=f"group {source_config.group_id}, topics {','.join(source_config.topics)}")


def _session(args, options, config, *, lag_probe=None, shutdown=None, description: str = "") -> Observability:
    from importlib import metadata

    try:
        version = metadata.version("news-ingest")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    observed = Observability(port=getattr(args, "metrics_port", None),
                             host=getattr(args, "metrics_host", DEFAULT_METRICS_HOST),
                             build_info={"version": version, "spacy_model": config.spacy_model,
                                         "runner": runner_name(options)},
                             lag_probe=lag_probe, shutdown=shutdown, description=description)
    # The CLI loads the model once before the run (pipeline_config) and fails there if it cannot.
    observed.mark_ready("spacy_model", f"{config.spacy_model} loaded")
    return observed


def runner_name(options) -> str:
    """The runner as build_info shows it: "FnApiRunner", "FnApiRunner/multi_processing", "PrismRunner"."""
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    runner = options.view_as(StandardOptions).runner
    name = runner if isinstance(runner, str) else type(runner).__name__
    mode = options.view_as(DirectOptions).direct_running_mode
    if name in ("FnApiRunner", "DirectRunner") and mode and mode != "in_memory":
        name += f"/{mode}"
    return name
