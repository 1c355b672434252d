"""Kafka connection, source and sink settings: frozen once by the CLI, never re-read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = [
    "SECURITY_SETTINGS",
    "SECURITY_ENV_PREFIX",
    "START_FROM_CHOICES",
    "DEFAULT_MAX_RECORD_BYTES",
    "DEFAULT_MAX_RECORDS_PER_BUNDLE",
    "DEFAULT_MAX_BUNDLE_SECONDS",
    "KafkaConnection",
    "KafkaSourceConfig",
    "KafkaSinkConfig",
    "security_from_env",
]

# kafka-python keyword arguments that carry security settings; each may come from an option
# (--security-protocol, --sasl-plain-password, ...) or from NEWS_INGEST_KAFKA_<NAME upper-cased>.
SECURITY_SETTINGS = {
    "security_protocol": str,
    "sasl_mechanism": str,
    "sasl_plain_username": str,
    "sasl_plain_password": str,
    "sasl_kerberos_service_name": str,
    "sasl_kerberos_domain_name": str,
    "ssl_cafile": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "ssl_password": str,
    "ssl_crlfile": str,
    "ssl_ciphers": str,
    "ssl_check_hostname": bool,
}
SECURITY_ENV_PREFIX = "NEWS_INGEST_KAFKA_"
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")
_SECRET_SETTINGS = ("sasl_plain_password", "ssl_password")

START_FROM_CHOICES = ("earliest", "latest")
# Kafka's own default limit of a record batch (message.max.bytes is 1048588 on the broker).
DEFAULT_MAX_RECORD_BYTES = 1_048_576
DEFAULT_MAX_RECORDS_PER_BUNDLE = 10_000
# A record leaves when its bundle ends (the sinks flush in finish_bundle): this bounds latency from below.
# 1 s: p50 2.0 s against 8.4 s with 5 s bundles at 2 articles/s; 0.65 s at 20/s with --nlp-processes 2
# (BENCHMARKS.md, Performance).
DEFAULT_MAX_BUNDLE_SECONDS = 1.0


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {text!r}")


def security_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The security settings found in ``NEWS_INGEST_KAFKA_*`` variables (read once, by the CLI)."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for name, kind in SECURITY_SETTINGS.items():
        value = environ.get(SECURITY_ENV_PREFIX + name.upper())
        if value is None or value == "":
            continue
        found[name] = _parse_bool(SECURITY_ENV_PREFIX + name.upper(), value) if kind is bool else value
    return found


@dataclass(frozen=True)
class KafkaConnection:
    """Where the brokers are and how to authenticate; ``client_kwargs()`` feeds every kafka-python client."""

    bootstrap_servers: tuple[str, ...]
    client_id: str = "news-ingest"
    security: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        if isinstance(self.bootstrap_servers, str):
            object.__setattr__(self, "bootstrap_servers", tuple(s.strip() for s in self.bootstrap_servers.split(",") if s.strip()))
        if not self.bootstrap_servers:
            raise ValueError("bootstrap servers must not be empty")
        for server in self.bootstrap_servers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"bootstrap server must be HOST:PORT, got {server!r}")
        if isinstance(self.security, Mapping):
            object.__setattr__(self, "security", tuple(sorted(self.security.items())))
        settings = dict(self.security)
        unknown = sorted(set(settings) - set(SECURITY_SETTINGS))
        if unknown:
            raise ValueError(f"unknown Kafka security setting(s): {', '.join(unknown)}")
        protocol = settings.get("security_protocol")
        if protocol is not None and protocol not in _SECURITY_PROTOCOLS:
            raise ValueError(f"security_protocol must be one of {', '.join(_SECURITY_PROTOCOLS)}, got {protocol!r}")
        mechanism = settings.get("sasl_mechanism")
        if mechanism is not None and mechanism not in _SASL_MECHANISMS:
            raise ValueError(f"sasl_mechanism must be one of {', '.join(_SASL_MECHANISMS)}, got {mechanism!r}")
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_crlfile"):
            path = settings.get(name)
            if path is not None and not os.path.isfile(path):
                raise ValueError(f"{name}: no such file {path!r}")

    def client_kwargs(self) -> dict[str, Any]:
        return {"bootstrap_servers": list(self.bootstrap_servers), "client_id": self.client_id, **dict(self.security)}

    def __repr__(self) -> str:  # never print secrets into logs
        shown = {k: ("***" if k in _SECRET_SETTINGS else v) for k, v in self.security}
        return f"KafkaConnection(bootstrap_servers={self.bootstrap_servers!r}, client_id={self.client_id!r}, security={shown!r})"


@dataclass(frozen=True)
class KafkaSourceConfig:
    """What the source reads and where it starts.

    ``stop_offsets`` (topic, partition, end offset) makes the source finite: it stops once every listed
    partition has been read up to its end offset, and reads only those partitions (``--until-caught-up``).
    ``run_token`` names this run's in-process state: the stop switch that SIGTERM/SIGINT flips
    (``request_stop``) and where offsets wait when they are committed at the end of the run
    (``register_run``).
    """

    connection: KafkaConnection
    topics: tuple[str, ...]
    group_id: str
    start_from: str = "earliest"
    stop_offsets: tuple[tuple[str, int, int], ...] | None = None
    run_token: str | None = None
    poll_timeout_ms: int = 200
    max_poll_records: int = 1000
    fetch_max_bytes: int = 52_428_800
    # kafka-python fetches again only once its buffer is drained, and the reader waits out that round
    # trip: four times kafka-python's 1 MiB made a million-message read 1.15-1.2x faster (docs/kafka.md).
    max_partition_fetch_bytes: int = 4_194_304
    # kafka-python sleeps this long in a poll that finds nothing fetchable and nothing in flight,
    # which happens between fetches of a busy consumer too: at its default of 100 ms, a third of
    # a fast read's time went to these sleeps (BENCHMARKS.md, Kafka). It also spaces retries.
    retry_backoff_ms: int = 20
    consumer_options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        if isinstance(self.topics, str):
            object.__setattr__(self, "topics", (self.topics,))
        if not self.topics or any(not t for t in self.topics):
            raise ValueError("at least one input topic is needed")
        if not self.group_id:
            raise ValueError("a consumer group id is needed")
        if self.start_from not in START_FROM_CHOICES:
            raise ValueError(f"start_from must be one of {', '.join(START_FROM_CHOICES)}, got {self.start_from!r}")
        if self.poll_timeout_ms < 0 or self.max_poll_records < 1 or self.retry_backoff_ms < 0:
            raise ValueError("poll_timeout_ms and retry_backoff_ms must be >= 0 and max_poll_records >= 1")

    def consumer_kwargs(self) -> dict[str, Any]:
        """kafka-python KafkaConsumer settings of the source (without the group and offset reset)."""
        return {"enable_auto_commit": False, "max_poll_records": self.max_poll_records,
                "fetch_max_bytes": self.fetch_max_bytes, "max_partition_fetch_bytes": self.max_partition_fetch_bytes,
                "retry_backoff_ms": self.retry_backoff_ms, **dict(self.consumer_options),
                **self.connection.client_kwargs()}


@dataclass(frozen=True)
class KafkaSinkConfig:
    """Where the sink writes. ``max_record_bytes`` caps one serialized record (the topic's own
    ``max.message.bytes`` lowers it further when the broker tells it); larger records become dead letters."""

    connection: KafkaConnection
    topic: str
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    flush_timeout_seconds: float = 120.0
    linger_ms: int = 5
    compression_type: str | None = None
    producer_options: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self):
        if not self.topic:
            raise ValueError("an output topic is needed")
        if self.max_record_bytes < 1024:
            raise ValueError(f"max_record_bytes must be at least 1024, got {self.max_record_bytes}")
        if self.compression_type not in (None, "gzip", "snappy", "lz4", "zstd"):
            raise ValueError(f"compression_type must be gzip, snappy, lz4 or zstd, got {self.compression_type!r}")
