"""Offset commits and run control of the Kafka source, per process: who commits, when, and how a run stops.

``KafkaCheckpointMark.finalize_checkpoint`` hands its offsets here. A registered run with
``commit_at_end`` only remembers them (``finish_run`` commits them once the pipeline has finished);
otherwise they are committed at once, by one consumer per group that serves nothing but commits.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterable

from transforms.kafka.config import KafkaConnection

__all__ = ["register_run", "request_stop", "finish_run", "close_committers", "commit_offsets", "deferred_run",
           "stop_event"]

_LOGGER = logging.getLogger(__name__)

# How long a commit waits for an unreachable broker before the run fails (the sinks' flush timeout).
COMMIT_RETRY_SECONDS = 120.0


def register_run(token: str, *, commit_at_end: bool = False) -> None:
    """Declare a run of this process: with ``commit_at_end`` its checkpoints are only remembered, and
    ``finish_run(token, commit=True)`` commits them once the pipeline has finished."""
    with _RUNS_LOCK:
        _RUNS[token] = _Run(commit_at_end)


def request_stop(token: str) -> None:
    """Ask every reader started with ``run_token=token`` in this process to finish (SIGTERM, SIGINT).

    The reader stops emitting, reports the final watermark, and its last checkpoint is finalized
    (committed) as usual; records it had fetched but not emitted are read again by the next run.
    """
    _run(token).stop.set()


def finish_run(token: str, *, commit: bool) -> dict[tuple[str, int], int]:
    """Forget the run; with ``commit``, first commit the offsets it deferred. Returns what was committed."""
    with _RUNS_LOCK:
        run = _RUNS.pop(token, None)
    if run is None or not commit:
        return {}
    return run.commit_deferred()


def close_committers() -> None:
    """Close the offset-commit clients of this process (the CLI calls it when a run ends)."""
    with _COMMITTERS_LOCK:
        committers = list(_COMMITTERS.values())
        _COMMITTERS.clear()
    for committer in committers:
        committer.close()


def commit_offsets(connection: KafkaConnection, group_id: str, factory: Callable | None,
                   offsets: Iterable[tuple[str, int, int]]) -> None:
    """Commit (topic, partition, next offset) for the group; offsets never move backwards in a process."""
    _committer(connection, group_id, factory).commit(offsets)


def deferred_run(token: str | None):
    """The registered run that commits at its end, or None (commit now)."""
    run = _RUNS.get(token) if token else None
    return run if run is not None and run.commit_at_end else None


def stop_event(token: str) -> threading.Event:
    return _run(token).stop


_RUNS: dict[str, "_Run"] = {}
_RUNS_LOCK = threading.Lock()
_COMMITTERS: dict[tuple, "_OffsetCommitter"] = {}
_COMMITTERS_LOCK = threading.Lock()


class _Run:
    """In-process state of one run: its stop switch and, with ``commit_at_end``, the deferred offsets."""

    def __init__(self, commit_at_end: bool = False):
        self.commit_at_end = commit_at_end
        self.stop = threading.Event()
        self._deferred: dict[tuple[str, int], int] = {}
        self._mark = None  # the last KafkaCheckpointMark deferred
        self._lock = threading.Lock()

    def defer(self, mark) -> None:
        with self._lock:
            self._mark = mark
            for topic, partition, offset in mark.offsets:
                if offset > self._deferred.get((topic, partition), -1):
                    self._deferred[(topic, partition)] = offset

    def commit_deferred(self) -> dict[tuple[str, int], int]:
        with self._lock:
            if self._mark is None:
                return {}
            offsets = tuple((t, p, o) for (t, p), o in sorted(self._deferred.items()))
            mark = self._mark
        _committer(mark.connection, mark.group_id, mark.consumer_factory).commit(offsets)
        return dict(self._deferred)


def _run(token: str) -> _Run:
    with _RUNS_LOCK:
        run = _RUNS.get(token)
        if run is None:
            run = _RUNS[token] = _Run()
        return run


def _committer(connection: KafkaConnection, group_id: str, factory: Callable | None) -> "_OffsetCommitter":
    key = (connection, group_id, factory)
    with _COMMITTERS_LOCK:
        committer = _COMMITTERS.get(key)
        if committer is None:
            committer = _COMMITTERS[key] = _OffsetCommitter(connection, group_id, factory or _default_consumer_factory)
        return committer


class _OffsetCommitter:
    """Commits offsets for one group from a consumer of its own, so finalization never touches a
    reader's consumer (kafka-python consumers are not thread-safe and a reader may be parked or
    closed by then). Offsets only move forward within a process."""

    def __init__(self, connection: KafkaConnection, group_id: str, factory: Callable):
        self._connection = connection
        self._group_id = group_id
        self._factory = factory
        self._consumer = None
        self._committed: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def commit(self, offsets: Iterable[tuple[str, int, int]]) -> None:
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        with self._lock:
            to_commit = {}
            for topic, partition, offset in offsets:
                if offset > self._committed.get((topic, partition), -1):
                    to_commit[TopicPartition(topic, partition)] = OffsetAndMetadata(offset, "", -1)
            if not to_commit:
                return
            self._commit_retrying(to_commit)
            for tp, meta in to_commit.items():
                self._committed[(tp.topic, tp.partition)] = meta.offset
            _LOGGER.debug("committed %s for group %s", to_commit, self._group_id)

    def _commit_retrying(self, to_commit: dict) -> None:
        # A broker that is down (or restarting, or electing a coordinator) makes the commit, or the
        # committer's first connection, fail with a retriable error: wait for it, as the sinks wait
        # for their acknowledgements, rather than fail the run a moment after the broker went away.
        from kafka.errors import KafkaError

        deadline = time.monotonic() + COMMIT_RETRY_SECONDS
        pause = 0.5
        while True:
            try:
                if self._consumer is None:
                    self._consumer = self._factory(group_id=self._group_id, enable_auto_commit=False,
                                                   **self._connection.client_kwargs())
                self._consumer.commit(offsets=to_commit)
                return
            except KafkaError as error:
                if not getattr(error, "retriable", False) or time.monotonic() + pause > deadline:
                    raise
                _LOGGER.warning("offset commit for group %s failed (%s: %s); retrying in %.1f s", self._group_id,
                                type(error).__name__, error, pause)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                try:
                    self._consumer.close(autocommit=False)
                except Exception:  # closing is best effort
                    _LOGGER.warning("error closing the offset committer", exc_info=True)
                self._consumer = None



def _default_consumer_factory(**kwargs):
    from kafka import KafkaConsumer

    return KafkaConsumer(**kwargs)
