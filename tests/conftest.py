"""Shared fixtures. ``kafka_bootstrap``: a real broker for tests marked ``kafka``.

The broker is the local single-node Kafka of ``deploy/kafka/local-kafka.sh``. When none answers, the
fixture starts one (and stops it again at the end of the session). When the broker cannot be had,
the tests are skipped on a developer's machine and FAIL when ``CI`` is set: CI never skips them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BROKER_SCRIPT = ROOT / "deploy" / "kafka" / "local-kafka.sh"
KAFKA_PORT = int(os.environ.get("KAFKA_PORT", "9092"))
BOOTSTRAP = f"localhost:{KAFKA_PORT}"
# First start on a clean machine fetches the jars with Maven.
_START_TIMEOUT_SECONDS = 600


def _answers(bootstrap: str) -> bool:
    host, _, port = bootstrap.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            pass
    except OSError:
        return False
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    except KafkaError:
        return False
    try:
        return bool(admin.describe_cluster().get("brokers"))
    except KafkaError:
        return False
    finally:
        admin.close()


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"Kafka broker unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"Kafka broker unavailable: {reason}")


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """``HOST:PORT`` of a running broker (started here when needed)."""
    started_here = False
    if not _answers(BOOTSTRAP):
        try:
            result = subprocess.run(["bash", str(BROKER_SCRIPT), "start"], capture_output=True, text=True,
                                    timeout=_START_TIMEOUT_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as err:
            _unavailable(f"{BROKER_SCRIPT.name} start: {err}")
        if result.returncode != 0:
            _unavailable(f"{BROKER_SCRIPT.name} start exited {result.returncode}: "
                         f"{(result.stderr or result.stdout).strip()[-2000:]}")
        started_here = True
        if not _answers(BOOTSTRAP):
            _unavailable(f"started, but nothing answers on {BOOTSTRAP}")
    yield BOOTSTRAP
    if started_here and not os.environ.get("NEWS_INGEST_KEEP_KAFKA"):
        subprocess.run(["bash", str(BROKER_SCRIPT), "stop"], capture_output=True, timeout=120)


@pytest.fixture
def kafka_names(request):
    """Unique topic and group names for one test: ``names("in")`` -> ``test-<test>-in-<random>``."""
    suffix = uuid.uuid4().hex[:8]
    stem = request.node.name.replace("[", "-").replace("]", "")[:40]

    def names(role: str) -> str:
        return f"test-{stem}-{role}-{suffix}"

    return names


class KafkaTestClient:
    """Small helpers over kafka-python for broker-backed tests."""

    def __init__(self, bootstrap: str):
        from transforms.kafka.config import KafkaConnection

        self.bootstrap = bootstrap
        self.connection = KafkaConnection((bootstrap,))

    def create_topic(self, topic: str, partitions: int = 1, configs: dict | None = None) -> str:
        from transforms.kafka import admin

        admin.create_topics(self.connection, {topic: partitions}, {topic: configs or {}})
        return topic

    def produce(self, topic: str, values, keys=None, partition: int | None = None) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        try:
            futures = [producer.send(topic, value=value, key=None if keys is None else keys[i], partition=partition)
                       for i, value in enumerate(values)]
            producer.flush(timeout=60)
            for future in futures:
                future.get(timeout=60)
        finally:
            producer.close()

    def read_all(self, topic: str) -> list:
        """Every record of the topic, from the beginning to the current end offsets."""
        from transforms.kafka import admin

        return admin.read_topic(self.connection, topic)

    def end_offsets(self, topic: str) -> dict:
        from transforms.kafka import admin

        return admin.end_offsets(self.connection, [topic])

    def committed(self, group: str, topic: str) -> dict:
        from transforms.kafka import admin

        return admin.committed_offsets(self.connection, group, [topic])


@pytest.fixture
def kafka(kafka_bootstrap):
    return KafkaTestClient(kafka_bootstrap)
