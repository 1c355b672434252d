"""Upper bounds for option values that can only hurt: argparse types that refuse them (exit status 2)."""

from __future__ import annotations

import argparse
from typing import Callable

__all__ = ["MAX_BATCH_SIZE", "MAX_HORIZON_SECONDS", "MAX_BUNDLE_RECORDS", "MAX_SECONDS", "MAX_RECORD_BYTES",
           "MAX_PARTITIONS", "at_most", "processes_within_cores"]

MAX_BATCH_SIZE = 10_000  # articles per nlp.pipe batch: beyond this only memory grows
MAX_HORIZON_SECONDS = 10 * 366 * 86_400  # ten years of dedup memory
MAX_BUNDLE_RECORDS = 1_000_000
MAX_SECONDS = 86_400.0  # bundle and shutdown waits: a day
MAX_RECORD_BYTES = 1 << 30  # Kafka's own message sizes are 32-bit, its defaults 1 MB
MAX_PARTITIONS = 10_000


def at_most(parse: Callable[[str], float], maximum: float, why: str = "") -> Callable[[str], float]:
    """The argparse type ``parse``, refusing values above ``maximum`` (and infinity)."""
    def parse_bounded(text: str):
        value = parse(text)
        if not value <= maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}{why}, got {text}")
        return value
    parse_bounded.__name__ = getattr(parse, "__name__", "value")
    return parse_bounded


def processes_within_cores(text: str):
    """``--nlp-processes``: "auto" or a number of processes no larger than the cores this process may use."""
    from pipeline.options import positive_int
    from transforms.nlp.annotate import usable_cores

    if text == "auto":
        return text
    value = positive_int(text)
    cores = usable_cores()
    if value > cores:
        raise argparse.ArgumentTypeError(f"must be at most the {cores} core(s) this process may use, got {text}")
    return value
