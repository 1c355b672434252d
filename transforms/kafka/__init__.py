"""Kafka in and out of the pipeline: an UnboundedSource reader, record and dead-letter sinks, their settings.

Split by concern: ``config`` (frozen settings, security from options or environment), ``serde``
(bytes in and out, no Beam), ``source`` (ReadFromKafka and its commit order), ``sink``
(WriteRecordsToKafka, WriteDeadLettersToKafka), ``admin`` (topics and offsets for the CLI and tests).
Import from the modules: this package imports nothing, so that the CLI reads its defaults from
``config`` without importing Beam.
"""
