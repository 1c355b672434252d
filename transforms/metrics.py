"""Prometheus metrics of the stages: their definitions and the tiny helpers that DoFns call.

Every helper is cheap (a dict lookup and a few microseconds of prometheus-client work) and never
raises into a stage: a metrics failure is logged once and the record goes on. The metric objects are
built lazily, once per process, on first use, so whether they write to this process's memory or to
prometheus-client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, set by the CLI before any worker
starts) is decided in each worker process, not at import time. See docs/observability.md.

Exporter-side metrics (``news_ingest_consumer_lag_records``, ``news_ingest_build_info``) are computed
by the process that serves ``/metrics`` (pipeline/observability.py); their names are defined here too.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, TypeVar

__all__ = [
    "PREFIX",
    "STAGES",
    "SINKS",
    "DUPLICATE_KINDS",
    "STAGE_BUCKETS",
    "LATENCY_BUCKETS",
    "CONSUMER_LAG",
    "BUILD_INFO",
    "observe_stage",
    "observe_stage_batch",
    "stage_timer",
    "timed_call",
    "timed_batch_call",
    "timed_iter",
    "count_read",
    "count_duplicate",
    "count_dead_letter",
    "count_written",
    "dead_letter_reason",
    "ingest_time_of",
    "read_counted",
    "duplicate_counted",
    "dead_letter_counted",
    "encode_and_count",
    "registry",
    "reset",
]

_LOGGER = logging.getLogger(__name__)

PREFIX = "news_ingest"
STAGES = ("parse", "dedup", "nlp", "timex", "events", "sink")
SINKS = ("file", "kafka")
DUPLICATE_KINDS = ("exact", "near")

# Per article, measured on seeds/ and meantime-dev (docs/observability.md): parse, dedup keying and
# record encoding take ~10-150 us, timex and events ~2-50 ms, spaCy (en_core_web_sm, batches of 64)
# ~50-350 ms depending on load; outliers reach a second.
STAGE_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From the Kafka record timestamp to the sink write: seconds when the job keeps up, minutes to hours
# when it catches up on a backlog.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
                   3 * 3600.0, 24 * 3600.0)

# Names of the metrics the exporter computes itself (pipeline/observability.py).
CONSUMER_LAG = f"{PREFIX}_consumer_lag_records"
BUILD_INFO = f"{PREFIX}_build_info"

T = TypeVar("T")


class _Metrics:
    """The prometheus-client objects of one process (one registry, never the global default one)."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.read = Counter(f"{PREFIX}_articles_read", "Messages read from the source (Kafka records, "
                            "replayed articles), before parsing.", ["topic"], registry=r)
        self.written = Counter(f"{PREFIX}_articles_written", "Enriched records handed to a sink "
                               "(Kafka: acknowledged by the broker).", ["sink"], registry=r)
        self.duplicates = Counter(f"{PREFIX}_duplicates", "Articles labelled as copies by dedup "
                                  "(written flagged, without NLP).", ["kind"], registry=r)
        self.dead_letters = Counter(f"{PREFIX}_dead_letters", "Messages sent to the dead-letter sink, "
                                    "by the stage that failed and a reason class.", ["stage", "reason"], registry=r)
        self.stage = Histogram(f"{PREFIX}_stage_duration_seconds", "Processing time per article in a "
                               "stage (batched stages: the batch time divided evenly).", ["stage"],
                               buckets=STAGE_BUCKETS, registry=r)
        self.latency = Histogram(f"{PREFIX}_end_to_end_latency_seconds", "From the source record's "
                                 "timestamp (Kafka record timestamp; replay: the run's start) to the sink "
                                 "write.", buckets=LATENCY_BUCKETS, registry=r)
        self.last_processed = Gauge(f"{PREFIX}_last_processed_timestamp_seconds", "Unix time of the last "
                                    "record written to a sink.", registry=r, multiprocess_mode="max")


_lock = threading.Lock()
_state: dict[str, Any] = {"metrics": None, "pid": None}
_warned: set[str] = set()


def _metrics() -> _Metrics:
    current = _state["metrics"]
    if current is not None and _state["pid"] == os.getpid():
        return current
    with _lock:
        if _state["metrics"] is None or _state["pid"] != os.getpid():
            _state["metrics"] = _Metrics()
            _state["pid"] = os.getpid()
        return _state["metrics"]


def _guarded(fn: Callable) -> Callable:
    """Metrics must never fail a record: log the first failure of each helper, then stay quiet."""

    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:  # pylint: disable=broad-except
            if fn.__name__ not in _warned:
                _warned.add(fn.__name__)
                _LOGGER.exception("metrics helper %s failed; metrics may be incomplete", fn.__name__)
            return None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def registry():
    """This process's registry (for tests and single-process exports; the exporter reads the files)."""
    return _metrics().registry


def reset() -> None:
    """Forget this process's metric objects and re-read ``PROMETHEUS_MULTIPROC_DIR``.

    The CLI calls it after setting or removing that variable, so metric objects made before (by a
    previous run in the same process, or at import) never write into another run's files.
    """
    from prometheus_client import values

    with _lock:
        values.close_all_multiprocess_files()
        values.ValueClass = values.get_value_class()
        _state["metrics"] = None
        _state["pid"] = None


# --- stage timing ---------------------------------------------------------------------------

@_guarded
def observe_stage(stage: str, seconds: float) -> None:
    """One article spent ``seconds`` in ``stage`` (one of STAGES)."""
    _metrics().stage.labels(stage).observe(max(seconds, 0.0))


@_guarded
def observe_stage_batch(stage: str, seconds: float, count: int) -> None:
    """A batch of ``count`` articles took ``seconds`` together: each is counted with an equal share."""
    if count <= 0:
        return
    child = _metrics().stage.labels(stage)
    share = max(seconds, 0.0) / count
    for _ in range(count):
        child.observe(share)


@contextmanager
def stage_timer(stage: str, count: int = 1):
    """``with stage_timer("parse"): ...`` observes the block's wall time (split over ``count`` articles)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        observe_stage_batch(stage, time.perf_counter() - started, count)


def timed_call(stage: str, fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)``, its wall time observed for one article in ``stage`` (also when it raises)."""
    started = time.perf_counter()
    try:
        return fn(*args, **kwargs)
    finally:
        observe_stage(stage, time.perf_counter() - started)


def timed_batch_call(stage: str, count: int, fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` done once for ``count`` articles (a producer flush): its time split over them."""
    started = time.perf_counter()
    try:
        return fn(*args, **kwargs)
    finally:
        observe_stage_batch(stage, time.perf_counter() - started, count)


def timed_iter(stage: str, items: Iterable[T]) -> Iterator[T]:
    """Yields ``items``; the time spent producing them (a lazy ``nlp.pipe``, say) is split evenly over
    the items yielded, once the iterator is exhausted or closed (a ``zip`` that stops early, garbage
    collection): spaCy does a batch's work on the first item, so per-item times would be lumpy."""
    iterator = iter(items)
    spent, count = 0.0, 0
    try:
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                return
            spent += time.perf_counter() - started
            count += 1
            yield item
    finally:
        observe_stage_batch(stage, spent, count)


# --- counts ---------------------------------------------------------------------------------

@_guarded
def count_read(topic: str, count: int = 1) -> None:
    _metrics().read.labels(topic).inc(count)


@_guarded
def count_duplicate(kind: str) -> None:
    """``kind``: "exact" or "near"."""
    _metrics().duplicates.labels(kind).inc()


@_guarded
def count_dead_letter(stage: str, reason: str) -> None:
    _metrics().dead_letters.labels(stage, reason).inc()


@_guarded
def count_written(sink: str, ingest_times: Iterable[float | None] = (None,), now: float | None = None) -> None:
    """Records handed to ``sink`` ("file", "kafka"): one per entry of ``ingest_times`` (seconds since the
    epoch, or None when unknown). Observes each one's end-to-end latency and sets the last-processed time."""
    metrics = _metrics()
    now = time.time() if now is None else now
    count = 0
    for ingest_time in ingest_times:
        count += 1
        if ingest_time is not None:
            metrics.latency.observe(max(now - ingest_time, 0.0))
    if count:
        metrics.written.labels(sink).inc(count)
        metrics.last_processed.set(now)


# --- pass-through steps for the graph (beam.Map(metrics.read_counted) and so on) -----------------

def read_counted(message):
    """A RawMessage, counted under its Kafka topic, or "files" for replay."""
    source = getattr(message, "source", None) or {}
    count_read(str(source.get("topic", "files")))
    return message


def duplicate_counted(article):
    """An Article after dedup, counted when it is a copy."""
    dedup = getattr(article, "dedup", None)
    status = getattr(dedup, "status", None)
    if status == "exact_duplicate":
        count_duplicate("exact")
    elif status == "near_duplicate":
        count_duplicate("near")
    return article


def dead_letter_counted(dead_letter):
    """A DeadLetter on its way to the dead-letter sink, counted by stage and reason class."""
    count_dead_letter(str(getattr(dead_letter, "stage", "unknown")), dead_letter_reason(dead_letter))
    return dead_letter


def encode_and_count(item, encode: Callable[[Any], str], sink: str) -> str:
    """``encode(item)`` for a file sink; an enriched record (a dict; dead letters are not) is counted as
    written to ``sink`` and its encoding timed as the "sink" stage."""
    started = time.perf_counter()
    line = encode(item)
    if isinstance(item, dict):
        observe_stage("sink", time.perf_counter() - started)
        count_written(sink, (ingest_time_of(item),))
    return line


# --- reason classes -------------------------------------------------------------------------

# Parse errors all share one exception type; their messages (transforms/parse/article.py) name the cause.
# tests/transforms/test_metrics.py feeds real bad inputs through parse_message so that a reworded
# message shows up there, not as a silent "other".
_PARSE_REASONS = (
    (re.compile(r"^payload of \d+ bytes is over"), "payload_too_large"),
    (re.compile(r"^payload is not valid UTF-8"), "not_utf8"),
    (re.compile(r"^payload contains NUL"), "nul_bytes"),
    (re.compile(r"^payload is empty"), "empty"),
    (re.compile(r"^(?:invalid JSON|JSON nested too deeply)"), "invalid_json"),
    (re.compile(r"^JSON article must be an object"), "not_an_object"),
    (re.compile(r"^article object needs"), "missing_text"),
    (re.compile(r"^field '\w+' must be"), "bad_field"),
    (re.compile(r"^article has no body text"), "no_text"),
    (re.compile(r"^text of \d+ characters is over"), "text_too_large"),
)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9_]+")


def dead_letter_reason(dead_letter: Any) -> str:
    """A low-cardinality reason class: the cause of a parse error ("invalid_json", "not_utf8", ...),
    else the error type in snake case ("value_error", "record_too_large"), at most 40 characters."""
    error_type = str(getattr(dead_letter, "error_type", "") or "")
    message = str(getattr(dead_letter, "message", "") or "")
    if error_type == "ArticleParseError":
        for pattern, reason in _PARSE_REASONS:
            if pattern.match(message):
                return reason
        return "other"
    reason = _NOT_WORD.sub("_", _CAMEL_BOUNDARY.sub("_", error_type).lower()).strip("_")
    return reason[:40] or "unknown"


def ingest_time_of(record: dict) -> float | None:
    """The ``ingested_at`` of an enriched record as seconds since the epoch (None when unreadable).

    Schema v1 writes it to the second, so latencies measured from it are up to one second long.
    """
    text = record.get("ingested_at") if isinstance(record, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
