"""Parse stage's DoFn and its public PTransform: ``parse_message`` over each raw message, dead letters aside."""

from __future__ import annotations

import logging

import apache_beam as beam

from transforms import metrics
from transforms.parse.article import ArticleParseError, ParseLimits, parse_message
from transforms.records import DEAD_LETTERS, DeadLetter, DeadLetterReason, RawMessage

_LOGGER = logging.getLogger(__name__)


class _ParseArticleFn(beam.DoFn):
    def __init__(self, limits: ParseLimits):
        self._limits = limits

    def process(self, message: RawMessage):
        if message.read_error is not None:  # a file the source could not read (transforms/files.py)
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, DeadLetter("read", "UnreadableFile", message.read_error, message.payload, message.source,
                                                                             DeadLetterReason.UNREADABLE_FILE))
            return
        try:
            yield metrics.timed_call("parse", parse_message, message, self._limits)
        except ArticleParseError as err:
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, DeadLetter("parse", "ArticleParseError", str(err), message.payload, message.source,
                                                                             err.reason))
        except Exception as err:  # a parser bug must not stop the stream: the message is kept as a dead letter
            _LOGGER.exception("parse failed unexpectedly for %s", dict(message.source))
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, DeadLetter("parse", type(err).__name__, str(err), message.payload, message.source,
                                                                             DeadLetterReason.UNEXPECTED_ERROR))


class ParseArticles(beam.PTransform):
    """RawMessage -> Article, with a ``dead_letters`` output for what cannot be parsed."""

    def __init__(self, limits: ParseLimits = ParseLimits()):
        super().__init__()
        self._limits = limits

    def expand(self, messages):
        return messages | "ParseArticle" >> beam.ParDo(_ParseArticleFn(self._limits)).with_outputs(DEAD_LETTERS, main="articles")
