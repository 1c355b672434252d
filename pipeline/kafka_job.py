"""The Kafka job: ``news-ingest run`` and ``news-ingest produce`` (being built for issue 3)."""

from __future__ import annotations

__all__ = ["add_run_arguments", "run_command", "add_produce_arguments", "produce_command"]


def add_run_arguments(parser) -> None:
    pass


def run_command(args, beam_args) -> int:
    from pipeline.options import UsageError

    raise UsageError("'run' is not available yet")


def add_produce_arguments(parser) -> None:
    pass


def produce_command(args) -> int:
    from pipeline.options import UsageError

    raise UsageError("'produce' is not available yet")
