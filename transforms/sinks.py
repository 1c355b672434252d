"""File sinks: enriched records and dead letters as JSON Lines."""

from __future__ import annotations

import apache_beam as beam
import orjson

from transforms import metrics
from transforms.records import DeadLetter

__all__ = ["encode_record", "encode_dead_letter", "WriteJsonLines"]


def encode_record(record: dict) -> str:
    return orjson.dumps(record).decode("utf-8")


def encode_dead_letter(dead_letter: DeadLetter) -> str:
    return orjson.dumps(dead_letter.to_dict()).decode("utf-8")


class WriteJsonLines(beam.PTransform):
    """One JSON document per line into exactly ``path`` (one shard, written atomically when the run ends)."""

    def __init__(self, path: str, encode=encode_record):
        super().__init__()
        self._path = path
        self._encode = encode

    def expand(self, items):
        _ = (
            items
            | "Encode" >> beam.Map(metrics.encode_and_count, self._encode, "file")
            | "Write" >> beam.io.WriteToText(self._path, num_shards=1, shard_name_template="")
        )
        return beam.pvalue.PDone(items.pipeline)
