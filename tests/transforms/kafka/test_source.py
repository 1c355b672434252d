"""The Kafka source: reader logic on a fake consumer, then the commit order and timestamps on the real broker."""

from __future__ import annotations

import collections
import time
import uuid
from collections import namedtuple

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.utils.timestamp import MAX_TIMESTAMP
from kafka import TopicPartition

from pipeline.run import sinks_fused_with_source
from transforms.kafka import sink as sink_module
from transforms.kafka.config import KafkaConnection, KafkaSinkConfig, KafkaSourceConfig
from transforms.kafka.sink import WriteDeadLettersToKafka, WriteRecordsToKafka
from transforms.kafka.source import KafkaCheckpointMark, KafkaUnboundedSource, PollBatch, PollBatchCoder, ReadFromKafka
from transforms.records import RawMessage

Record = namedtuple("Record", "topic partition offset timestamp key value")
CONNECTION = KafkaConnection(("localhost:9092",))


# -- a fake consumer: unit tests need no broker ------------------------------------------------------

FAKE_TOPICS: dict[str, list[list[bytes]]] = {}  # topic -> partitions -> values
FAKE_COMMITS: list = []
BASE_MS = 1_600_000_000_000


class FakeConsumer:
    """Enough of kafka-python's KafkaConsumer for the reader: assign, seek, position, poll, pause."""

    def __init__(self, group_id=None, auto_offset_reset="earliest", max_poll_records=500, **_):
        self._reset = auto_offset_reset
        self._max = max_poll_records
        self._positions = {}
        self._paused = set()

    def partitions_for_topic(self, topic):
        return set(range(len(FAKE_TOPICS[topic]))) if topic in FAKE_TOPICS else None

    def assign(self, partitions):
        self._positions = {tp: None for tp in partitions}

    def seek(self, tp, offset):
        self._positions[tp] = offset

    def _end(self, tp):
        return len(FAKE_TOPICS[tp.topic][tp.partition])

    def position(self, tp):
        if self._positions[tp] is None:
            self._positions[tp] = 0 if self._reset == "earliest" else self._end(tp)
        return self._positions[tp]

    def highwater(self, tp):
        return self._end(tp)

    def pause(self, *tps):
        self._paused.update(tps)

    def poll(self, timeout_ms=0, max_records=None):
        out = {}
        budget = max_records or self._max
        for tp in sorted(self._positions):
            if tp in self._paused or budget <= 0:
                continue
            start = self.position(tp)
            values = FAKE_TOPICS[tp.topic][tp.partition][start:start + min(budget, 3)]
            if values:
                out[tp] = [Record(tp.topic, tp.partition, start + i, BASE_MS + 1000 * (start + i), None, v)
                           for i, v in enumerate(values)]
                self._positions[tp] = start + len(values)
                budget -= len(values)
        return out

    def commit(self, offsets):
        FAKE_COMMITS.append({(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()})

    def close(self, autocommit=False):
        pass


@pytest.fixture
def fake_topic():
    name = f"fake-{uuid.uuid4().hex[:6]}"
    FAKE_TOPICS[name] = [[b"a0", b"a1", b"a2", b"a3"], [], [b"c0", b"c1"]]
    FAKE_COMMITS.clear()
    yield name
    del FAKE_TOPICS[name]


def stop_at_ends(topic):
    return tuple((topic, p, len(values)) for p, values in enumerate(FAKE_TOPICS[topic]))


def _read_all(reader):
    """Every message a reader emits until it reports "no data", with each poll's element timestamp."""
    batches = []
    available = reader.start()
    while available:
        batches.append((reader.get_current(), reader.get_current_timestamp()))
        available = reader.advance()
    return batches


def test_the_reader_emits_every_partition_with_kafka_timestamps_and_stops_at_the_end_offsets(fake_topic):
    config = KafkaSourceConfig(CONNECTION, (fake_topic,), "g", stop_offsets=stop_at_ends(fake_topic))
    reader = KafkaUnboundedSource(config, consumer_factory=FakeConsumer).create_reader(None, None)
    seen = []
    for batch, timestamp in _read_all(reader):
        assert isinstance(batch, PollBatch) and batch
        # A poll is stamped with its oldest message, so no message is earlier than its element.
        assert timestamp.micros == min(round(message.ingest_time * 1_000_000) for message in batch)
        seen.extend((m.source["partition"], m.source["offset"], m.payload, m.ingest_time) for m in batch)
    assert sorted(seen) == [(0, 0, b"a0", 1_600_000_000.0), (0, 1, b"a1", 1_600_000_001.0), (0, 2, b"a2", 1_600_000_002.0),
                            (0, 3, b"a3", 1_600_000_003.0), (2, 0, b"c0", 1_600_000_000.0), (2, 1, b"c1", 1_600_000_001.0)]
    assert reader.get_watermark() == MAX_TIMESTAMP
    assert reader.get_checkpoint_mark().offsets == ((fake_topic, 0, 4), (fake_topic, 1, 0), (fake_topic, 2, 2))


def test_records_without_a_timestamp_get_the_time_they_were_read(fake_topic, monkeypatch):
    class NoTimestamps(FakeConsumer):
        def poll(self, timeout_ms=0, max_records=None):
            return {tp: [r._replace(timestamp=None if r.offset % 2 else -1) for r in records]
                    for tp, records in super().poll(timeout_ms, max_records).items()}

    monkeypatch.setattr("transforms.kafka.source.time.time", lambda: 1_700_000_000.5)
    config = KafkaSourceConfig(CONNECTION, (fake_topic,), "g", stop_offsets=stop_at_ends(fake_topic))
    reader = KafkaUnboundedSource(config, consumer_factory=NoTimestamps).create_reader(None, None)
    batches = _read_all(reader)
    assert sorted(m.payload for batch, _ in batches for m in batch) == [b"a0", b"a1", b"a2", b"a3", b"c0", b"c1"]
    assert {m.ingest_time for batch, _ in batches for m in batch} == {1_700_000_000.5}
    assert {timestamp.micros for _, timestamp in batches} == {1_700_000_000_500_000}


def test_a_broker_that_goes_down_mid_read_does_not_fail_the_reader(fake_topic):
    """kafka-python 3 revalidates positions after a disconnect and raises at once while the broker is
    down: the reader keeps what it emitted and reads on when the broker answers (CI caught a run that
    failed this way a second after its start)."""
    from kafka.errors import KafkaConnectionError

    down = []

    class GoesDown(FakeConsumer):
        def position(self, tp):
            if down:
                raise KafkaConnectionError("111 ECONNREFUSED")
            return super().position(tp)

        def poll(self, timeout_ms=0, max_records=None):
            out = super().poll(timeout_ms, max_records)
            down.append(True)  # the broker goes away right after the first poll
            return out

    config = KafkaSourceConfig(CONNECTION, (fake_topic,), "g", stop_offsets=stop_at_ends(fake_topic))
    reader = KafkaUnboundedSource(config, consumer_factory=GoesDown).create_reader(None, None)
    assert reader.start()
    first = [m.payload for m in reader.get_current()]
    down.clear()  # the broker is back
    rest = [m.payload for batch, _ in _read_all_after_start(reader) for m in batch]
    assert sorted(first + rest) == [b"a0", b"a1", b"a2", b"a3", b"c0", b"c1"]
    assert reader.get_checkpoint_mark().offsets == ((fake_topic, 0, 4), (fake_topic, 1, 0), (fake_topic, 2, 2))


def _read_all_after_start(reader):
    batches = []
    while reader.advance():
        batches.append((reader.get_current(), reader.get_current_timestamp()))
    return batches


def test_a_reader_resumes_strictly_after_its_checkpoint(fake_topic):
    config = KafkaSourceConfig(CONNECTION, (fake_topic,), "g", stop_offsets=stop_at_ends(fake_topic))
    source = KafkaUnboundedSource(config, consumer_factory=FakeConsumer)
    mark = KafkaCheckpointMark(((fake_topic, 0, 3), (fake_topic, 2, 1)), CONNECTION, "g")
    reader = source.create_reader(None, mark)
    assert sorted(m.payload for batch, _ in _read_all(reader) for m in batch) == [b"a3", b"c1"]


def test_a_bundle_holds_at_most_max_records_per_bundle_and_the_checkpoint_starts_the_next(fake_topic):
    config = KafkaSourceConfig(CONNECTION, (fake_topic,), "g", stop_offsets=stop_at_ends(fake_topic))
    reader = KafkaUnboundedSource(config, consumer_factory=FakeConsumer, max_records_per_bundle=4).create_reader(None, None)
    first = [m.payload for batch, _ in _read_all(reader) for m in batch]  # until "no data now"
    assert len(first) == 4 and reader.get_watermark() != MAX_TIMESTAMP
    assert not reader.advance()  # still full until Beam takes the checkpoint
    assert dict(((t, p), o) for t, p, o in reader.get_checkpoint_mark().offsets)[(fake_topic, 0)] >= 2
    second = []
    while reader.advance():
        second.extend(m.payload for m in reader.get_current())
    assert len(second) == 2 and reader.get_watermark() == MAX_TIMESTAMP
    assert sorted(first + second) == [b"a0", b"a1", b"a2", b"a3", b"c0", b"c1"]


def test_a_poll_batch_survives_its_coder_and_its_size_is_estimated_without_encoding():
    batch = PollBatch([RawMessage(b"x" * 100, {"topic": "t", "partition": 0, "offset": n}, 1.5, "auto", n)
                       for n in range(3)])
    coder = PollBatchCoder()
    assert coder.decode(coder.encode(batch)) == batch
    assert isinstance(coder.decode(coder.encode(batch)), PollBatch)
    assert 300 <= coder.estimate_size(batch) < len(coder.encode(batch)) * 2


def test_the_pipeline_reads_everything_and_commits_the_end_offsets(fake_topic):
    config = KafkaSourceConfig(CONNECTION, (fake_topic,), "g", stop_offsets=stop_at_ends(fake_topic))
    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as root:
        payloads = (root | ReadFromKafka(config, max_records_per_bundle=2, consumer_factory=FakeConsumer)
                    | beam.Map(lambda message: message.payload))
        assert_that(payloads, equal_to([b"a0", b"a1", b"a2", b"a3", b"c0", b"c1"]))
    assert FAKE_COMMITS, "no offsets were committed"
    committed = {}
    for commit in FAKE_COMMITS:  # each commit carries only the offsets that moved
        committed.update(commit)
    assert committed == {(fake_topic, 0): 4, (fake_topic, 1): 0, (fake_topic, 2): 2}
    # Bundles of two records: commits move forward bundle by bundle, never backwards.
    firsts = [commit[(fake_topic, 0)] for commit in FAKE_COMMITS if (fake_topic, 0) in commit]
    assert firsts == sorted(firsts) and len(FAKE_COMMITS) >= 3


def _to_record(message):
    return {"id": f"{message.source['partition']}-{message.source['offset']}", "source": dict(message.source),
            "text": message.payload.decode()}


def test_sinks_are_fused_with_the_source_unless_a_flatten_separates_them():
    config = KafkaSourceConfig(CONNECTION, ("in",), "g")
    sink = KafkaSinkConfig(CONNECTION, "out")

    def build(with_flatten):
        root = beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"]))
        records = root | ReadFromKafka(config) | beam.Map(_to_record)
        if with_flatten:
            records = (records, root | beam.Create([])) | beam.Flatten()
        _ = records | WriteRecordsToKafka(sink) | WriteDeadLettersToKafka(sink)
        return root

    assert sinks_fused_with_source(build(with_flatten=False))
    assert not sinks_fused_with_source(build(with_flatten=True))


# -- on the broker ---------------------------------------------------------------------------------

EVENTS: list = []


class _RecordingProduceFn(sink_module._ProduceFn):
    def finish_bundle(self):
        pending = len(self._pending)
        yield from super().finish_bundle() or ()
        EVENTS.append(("flushed", self._config.topic, pending))


@pytest.mark.kafka
def test_offsets_are_committed_only_after_the_sinks_flushed_the_records_they_cover(kafka, kafka_names, monkeypatch):
    topic, out, dlq, group = (kafka_names(role) for role in ("in", "out", "dlq", "group"))
    kafka.create_topic(topic, partitions=3)
    kafka.create_topic(out)
    kafka.create_topic(dlq)
    kafka.produce(topic, [f"message {n}".encode() for n in range(2500)], keys=[str(n).encode() for n in range(2500)])
    ends = kafka.end_offsets(topic)
    EVENTS.clear()
    finalize = KafkaCheckpointMark.finalize_checkpoint

    def recording_finalize(mark):
        EVENTS.append(("commit", dict(((t, p), o) for t, p, o in mark.offsets)))
        finalize(mark)

    monkeypatch.setattr(KafkaCheckpointMark, "finalize_checkpoint", recording_finalize)
    monkeypatch.setattr(sink_module, "_ProduceFn", _RecordingProduceFn)
    config = KafkaSourceConfig(kafka.connection, (topic,), group,
                               stop_offsets=tuple((t, p, o) for (t, p), o in sorted(ends.items())))
    root = beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"]))
    _ = (root | ReadFromKafka(config, max_records_per_bundle=600) | beam.Map(_to_record)
         | WriteRecordsToKafka(KafkaSinkConfig(kafka.connection, out))
         | WriteDeadLettersToKafka(KafkaSinkConfig(kafka.connection, dlq)))
    assert sinks_fused_with_source(root)
    root.run().wait_until_finish()

    flushed = 0
    commits = 0
    for event in EVENTS:
        if event[0] == "flushed" and event[1] == out:
            flushed += event[2]
        elif event[0] == "commit":
            commits += 1
            assert sum(event[1].values()) <= flushed, "offsets committed for records not yet flushed"
    assert commits >= 4  # 2500 records in bundles of at most 600
    assert flushed == 2500
    assert len({r.key for r in kafka.read_all(out)}) == 2500
    assert kafka.committed(group, topic) == ends


@pytest.mark.kafka
def test_element_timestamps_are_kafka_timestamps_across_topics(kafka, kafka_names):
    from kafka import KafkaProducer

    first, second = kafka.create_topic(kafka_names("a"), partitions=2), kafka.create_topic(kafka_names("b"))
    old = 946_684_800_000  # 2000-01-01: a producer-set CreateTime, far from now
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    for n in range(10):
        producer.send(first if n % 2 else second, value=b"x%d" % n, timestamp_ms=old + n * 1000)
    producer.flush()
    producer.close()
    stops = tuple((t, p, o) for topic in (first, second) for (t, p), o in sorted(kafka.end_offsets(topic).items()))
    config = KafkaSourceConfig(kafka.connection, (first, second), kafka_names("group"), stop_offsets=stops)
    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as root:
        stamped = (root | ReadFromKafka(config)
                   | beam.Map(lambda m, ts=beam.DoFn.TimestampParam: (m.payload, ts.micros // 1000,
                                                                        round(m.ingest_time * 1000))))
        assert_that(stamped, equal_to([(b"x%d" % n, old + n * 1000, old + n * 1000) for n in range(10)]))


def test_a_stop_commits_what_was_emitted_and_nothing_after_it(fake_topic):
    from transforms.kafka.source import finish_run, register_run, request_stop

    token = f"test-{uuid.uuid4().hex}"
    register_run(token)
    config = KafkaSourceConfig(CONNECTION, (fake_topic,), "g", run_token=token)
    reader = KafkaUnboundedSource(config, consumer_factory=FakeConsumer).create_reader(None, None)
    assert reader.start()  # the first poll: a0..a2 and c0..c1, emitted as one element
    emitted = {(m.source["partition"], m.source["offset"]) for m in reader.get_current()}
    assert emitted == {(0, 0), (0, 1), (0, 2), (2, 0), (2, 1)}
    request_stop(token)
    assert not reader.advance()
    assert reader.get_watermark() == MAX_TIMESTAMP
    offsets = dict(((t, p), o) for t, p, o in reader.get_checkpoint_mark().offsets)
    assert offsets == {(fake_topic, 0): 3, (fake_topic, 1): 0, (fake_topic, 2): 2}  # a3 was never emitted
    finish_run(token, commit=False)


def test_a_commit_waits_for_a_broker_that_is_down_and_gives_up_after_its_deadline(monkeypatch):
    from kafka.errors import KafkaConnectionError

    from transforms.kafka import commit

    monkeypatch.setattr(commit.time, "sleep", lambda seconds: None)
    attempts = []

    class Unreachable(FakeConsumer):
        def __init__(self, **kwargs):
            attempts.append("connect")
            if len(attempts) < 3:  # the broker is down for the first two connections
                raise KafkaConnectionError("111 ECONNREFUSED")
            super().__init__(**kwargs)

    FAKE_COMMITS.clear()
    commit._OffsetCommitter(CONNECTION, "g-down", Unreachable).commit([("t", 0, 5)])
    assert len(attempts) == 3 and FAKE_COMMITS == [{("t", 0): 5}]

    clock = iter(range(0, 10_000, 30))  # 30 s per look at the clock: past 120 s after a few tries
    monkeypatch.setattr(commit.time, "monotonic", lambda: next(clock))

    class NeverUp(FakeConsumer):
        def __init__(self, **kwargs):
            raise KafkaConnectionError("111 ECONNREFUSED")

    with pytest.raises(KafkaConnectionError):
        commit._OffsetCommitter(CONNECTION, "g-never", NeverUp).commit([("t", 0, 5)])
