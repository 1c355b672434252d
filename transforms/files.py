"""Replay source: article files (.txt raw pages, .json objects, .jsonl object lines) read as RawMessages."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue

from transforms.file_safety import FileProblem, open_regular_file, read_bounded, read_lines_bounded, walk_regular_files
from transforms.parse.article import DEFAULT_MAX_PAYLOAD_BYTES
from transforms.records import RawMessage

__all__ = ["ARTICLE_SUFFIXES", "MAX_INPUT_PATHS", "ArticleFile", "ordinal_base", "check_input_paths", "list_article_files",
           "find_article_files", "any_article_file", "read_article_file", "ReadArticleFiles"]

_LOGGER = logging.getLogger(__name__)

ARTICLE_SUFFIXES = {".txt": "text", ".json": "json", ".jsonl": "json"}
# Ordinals keep the input order across files: given path, file below it, line number, high to low bits.
_LINE_BITS = 24
_FILE_BITS = 24
_MAX_LINE = (1 << _LINE_BITS) - 1
_MAX_FILE = (1 << _FILE_BITS) - 1
MAX_INPUT_PATHS = 1 << 15


class ArticleFile(NamedTuple):
    path: str  # on disk
    name: str  # stable name recorded in ``source.file``
    index: int  # position in the input order (see ``ordinal_base``)


def ordinal_base(root_index: int, file_index: int) -> int:
    """The first ordinal of a file: given path, then file below it, then line, in 15 + 24 + 24 bits (under 2**63,
    which orjson and Beam's integer coders take); lines past 2**24 - 1 share the last ordinal of their file."""
    return (root_index << (_FILE_BITS + _LINE_BITS)) | (min(file_index, _MAX_FILE) << _LINE_BITS)


def check_input_paths(paths: Iterable[str]) -> None:
    """Raise FileNotFoundError for a path that does not exist, ValueError for more paths than ordinals can tell apart."""
    paths = list(paths)
    if len(paths) > MAX_INPUT_PATHS:
        raise ValueError(f"at most {MAX_INPUT_PATHS} paths may be given; name their folder instead")
    for given in paths:
        if not os.path.lexists(given):
            raise FileNotFoundError(f"no such file or folder: {given}")


def list_article_files(root_index: int, given: str) -> Iterator[ArticleFile | FileProblem]:
    """The article files under one given path, lazily: the path itself when it is not a folder, else the
    files below it with an article suffix (see file_safety.walk_regular_files), and FileProblems.

    ``name`` is the file's path below the folder's own name ("seeds/a.txt"), or the file's base
    name, so records carry the same ``source.file`` (and so the same id) on every machine.
    """
    if not os.path.isdir(given):
        yield ArticleFile(given, os.path.basename(given), ordinal_base(root_index, 0))
        return
    base = Path(given).resolve().name
    for file_index, found in enumerate(walk_regular_files(given, ARTICLE_SUFFIXES)):
        if isinstance(found, FileProblem):
            yield found
        else:
            name = f"{base}/{Path(found).relative_to(given).as_posix()}"
            yield ArticleFile(found, name, ordinal_base(root_index, file_index))


def find_article_files(paths: Iterable[str]) -> list[ArticleFile]:
    """Every article file under the given paths as a list (for tests and small inputs; the replay
    source lists lazily); FileProblems are left out. Raises FileNotFoundError for a missing path."""
    paths = list(paths)
    check_input_paths(paths)
    return [found for index, given in enumerate(paths) for found in list_article_files(index, given)
            if isinstance(found, ArticleFile)]


def any_article_file(paths: Iterable[str]) -> bool:
    """Whether the given paths hold at least one article file (lists only until the first)."""
    for index, given in enumerate(paths):
        for found in list_article_files(index, given):
            if isinstance(found, ArticleFile):
                return True
    return False


def read_article_file(article_file: ArticleFile | FileProblem, ingest_time: float,
                      max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> Iterator[RawMessage]:
    """One message per .txt/.json file, one per non-blank line of a .jsonl file; never more than
    ``max_payload_bytes`` + 1 bytes read into one message. A file that cannot be read, is not a
    regular file or is over the limit gives one message with ``read_error`` set (a dead letter)."""
    if isinstance(article_file, FileProblem):
        yield _unreadable(article_file.path, article_file.path, article_file.reason, ingest_time, 0)
        return
    kind = ARTICLE_SUFFIXES.get(Path(article_file.path).suffix.lower(), "auto")
    base_ordinal = article_file.index
    handle = open_regular_file(article_file.path)
    if isinstance(handle, FileProblem):
        yield _unreadable(article_file.path, article_file.name, handle.reason, ingest_time, base_ordinal)
        return
    with handle:
        try:
            if not article_file.path.lower().endswith(".jsonl"):
                payload, over = read_bounded(handle, max_payload_bytes)
                error = _over_limit(article_file.path, "file", max_payload_bytes) if over else None
                yield RawMessage(payload, {"file": article_file.name}, ingest_time, kind, base_ordinal, error)
                return
            for line_number, line, over in read_lines_bounded(handle, max_payload_bytes):
                if line.strip():
                    source = {"file": article_file.name, "line": line_number}
                    error = _over_limit(f"{article_file.path}:{line_number}", "line", max_payload_bytes) if over else None
                    yield RawMessage(line, source, ingest_time, kind, base_ordinal + min(line_number, _MAX_LINE), error)
        except OSError as err:  # e.g. EIO, or a file on a network mount that went away mid-read
            yield _unreadable(article_file.path, article_file.name, f"read failed: {err.strerror or err}",
                              ingest_time, base_ordinal)


def _over_limit(where: str, what: str, limit: int) -> str:
    _LOGGER.warning("%s: %s over the payload limit of %d bytes: a dead letter", where, what, limit)
    return f"{what} is over the payload limit of {limit} bytes"


def _unreadable(path: str, name: str, reason: str, ingest_time: float, ordinal: int) -> RawMessage:
    _LOGGER.warning("skipped %s: %s", path, reason)
    return RawMessage(b"", {"file": name}, ingest_time, "auto", ordinal, f"file skipped: {reason}")


class ReadArticleFiles(beam.PTransform):
    """Bounded source for replay: every article of the given paths, stamped with the run's ingest time.

    Only the given paths enter the graph; folders are listed inside the source, lazily, so a folder
    of a million files is never one list (nor one graph constant)."""

    def __init__(self, paths: list[str], ingest_time: float, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES):
        super().__init__()
        self._paths = list(paths)
        self._ingest_time = ingest_time
        self._max_payload_bytes = max_payload_bytes

    def expand(self, root):
        ingest_time = self._ingest_time
        return (
            root
            | "GivenPaths" >> beam.Create(list(enumerate(self._paths)), reshuffle=False)
            | "ListFiles" >> beam.FlatMapTuple(list_article_files)
            | "ReadFile" >> beam.FlatMap(read_article_file, ingest_time, self._max_payload_bytes)
            | "StampIngestTime" >> beam.Map(lambda message: TimestampedValue(message, message.ingest_time))
        )
