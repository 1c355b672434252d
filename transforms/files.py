"""Replay source: article files (.txt raw pages, .json objects, .jsonl object lines) read as RawMessages."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue

from transforms.records import RawMessage

__all__ = ["ARTICLE_SUFFIXES", "ArticleFile", "find_article_files", "read_article_file", "ReadArticleFiles"]

_LOGGER = logging.getLogger(__name__)

ARTICLE_SUFFIXES = {".txt": "text", ".json": "json", ".jsonl": "json"}
# Ordinals keep the input order across files: file index in the high bits, line number in the low.
_LINE_BITS = 32


class ArticleFile(NamedTuple):
    path: str  # on disk
    name: str  # stable name recorded in ``source.file``
    index: int  # position in the input order


def find_article_files(paths: Iterable[str]) -> list[ArticleFile]:
    """Each path is a file or a folder walked recursively, in sorted order.

    ``name`` is the file's path below the folder's own name ("seeds/a.txt"), or the file's base
    name, so records carry the same ``source.file`` (and so the same id) on every machine.
    Raises FileNotFoundError for a path that does not exist.
    """
    found: list[tuple[str, str]] = []
    for given in paths:
        root = Path(given)
        if root.is_file():
            found.append((str(root), root.name))
        elif root.is_dir():
            base = root.resolve().name
            for folder, dirs, files in os.walk(root):
                dirs.sort()
                for file_name in sorted(files):
                    file_path = Path(folder) / file_name
                    if file_path.suffix.lower() in ARTICLE_SUFFIXES:
                        found.append((str(file_path), f"{base}/{file_path.relative_to(root).as_posix()}"))
        else:
            raise FileNotFoundError(f"no such file or folder: {given}")
    return [ArticleFile(path, name, index) for index, (path, name) in enumerate(found)]


def read_article_file(article_file: ArticleFile, ingest_time: float) -> Iterator[RawMessage]:
    """One message per .txt/.json file, one per non-blank line of a .jsonl file."""
    kind = ARTICLE_SUFFIXES.get(Path(article_file.path).suffix.lower(), "auto")
    base_ordinal = article_file.index << _LINE_BITS
    with open(article_file.path, "rb") as handle:
        if not article_file.path.lower().endswith(".jsonl"):
            yield RawMessage(handle.read(), {"file": article_file.name}, ingest_time, kind, base_ordinal)
            return
        for line_number, line in enumerate(handle, start=1):
            if line.strip():
                source = {"file": article_file.name, "line": line_number}
                yield RawMessage(line.rstrip(b"\r\n"), source, ingest_time, kind, base_ordinal + line_number)


class ReadArticleFiles(beam.PTransform):
    """Bounded source for replay: every article of the given files, stamped with the run's ingest time."""

    def __init__(self, files: list[ArticleFile], ingest_time: float):
        super().__init__()
        self._files = files
        self._ingest_time = ingest_time

    def expand(self, root):
        ingest_time = self._ingest_time
        return (
            root
            | "ListFiles" >> beam.Create(self._files, reshuffle=False)
            | "ReadFile" >> beam.FlatMap(read_article_file, ingest_time)
            | "StampIngestTime" >> beam.Map(lambda message: TimestampedValue(message, message.ingest_time))
        )
